"""One connection of a seed-style client, driven by SocketIOTransportTests.

Usage: seed_once.py BASE_URL CLIENT_ID LAST_SEQUENCE

Connects with the seed's auth {client_id, last_sequence}; waits for connection_established and,
when LAST_SEQUENCE > 0, the event_replay; prints one JSON line {"established": ..., "replay": ...}
and disconnects. Exits non-zero when a step times out.
"""
import json
import sys
import threading

import socketio

BASE, CLIENT_ID, LAST = sys.argv[1], sys.argv[2], int(sys.argv[3])
done = threading.Event()
result = {}

sio = socketio.Client(reconnection=False)


@sio.on("connection_established")
def established(data):
    result["established"] = data
    if LAST == 0:
        done.set()


@sio.on("event_replay")
def replay(data):
    result["replay"] = data
    done.set()


sio.connect(BASE, auth={"client_id": CLIENT_ID, "last_sequence": LAST}, transports=["websocket"], wait_timeout=20)
if not done.wait(30):
    print("timed out waiting for the replay", file=sys.stderr)
    sio.disconnect()
    sys.exit(1)
sio.disconnect()
print(json.dumps(result))
