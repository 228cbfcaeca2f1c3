"""A seed-style dashboard client, driven by SocketIOTransportTests.

Usage: seed_resume.py BASE_URL polling|websocket|upgrade MISSED

Connects with the seed's auth {client_id, last_sequence}, receives live events, disconnects,
publishes MISSED events over HTTP while away, reconnects with last_sequence and expects exactly
those in one event_replay, then live events again. Prints one JSON summary line on stdout; the
Swift test checks it. Exits non-zero (with the reason on stderr) when a step times out.
"""
import json
import sys
import threading
import time

import requests
import socketio

BASE, MODE, MISSED = sys.argv[1], sys.argv[2], int(sys.argv[3])
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": ["polling", "websocket"]}[MODE]
DEADLINE = 30.0


class Recorder:
    """Collects what one socket.io connection receives, with a condition to wait on."""

    def __init__(self):
        self.cond = threading.Condition()
        self.received = {}  # event name -> list of first arguments
        self.offsets = []

    def attach(self, sio):
        for name in ("connection_established", "event_history", "event_replay", "pong", "ack_confirmed", "connection_stats"):
            sio.on(name, self._recorder(name))
        sio.on("claude_event", self._on_event)

    def _recorder(self, name):
        def handler(*args):
            with self.cond:
                self.received.setdefault(name, []).append(args[0] if args else None)
                self.cond.notify_all()
        return handler

    def _on_event(self, *args):
        with self.cond:
            self.received.setdefault("claude_event", []).append(args[0])
            if len(args) > 1:
                self.offsets.append(args[1])
            self.cond.notify_all()

    def wait(self, what, predicate):
        end = time.monotonic() + DEADLINE
        with self.cond:
            while not predicate(self.received):
                left = end - time.monotonic()
                if left <= 0:
                    sys.stderr.write("timed out waiting for %s; received %s\n" % (what, {k: len(v) for k, v in self.received.items()}))
                    sys.exit(2)
                self.cond.wait(left)
            return self.received


def publish(events):
    response = requests.post(BASE + "/v1/events", json=events, timeout=30)
    response.raise_for_status()
    return response.json()["accepted"]


def publish_seed(event):
    response = requests.post(BASE + "/api/events", json=event, timeout=30)
    response.raise_for_status()
    return response.json()["accepted"]


def connect(auth):
    recorder = Recorder()
    sio = socketio.Client(reconnection=False)
    recorder.attach(sio)
    sio.connect(BASE, auth=auth, transports=TRANSPORTS, wait_timeout=20)
    return sio, recorder


def count(name, n):
    return lambda received: len(received.get(name, [])) >= n


client_id = "dashboard-%s-%d" % (MODE, int(time.time() * 1000))
summary = {"mode": MODE}

# 1. First connection: fresh start, then live events.
sio, first = connect({"client_id": client_id, "last_sequence": 0})
first.wait("connection_established", count("connection_established", 1))
first.wait("event_history", count("event_history", 1))
summary["established"] = first.received["connection_established"][0]
live = publish([{"topic": "live.before", "data": {"n": i}} for i in range(9)])
live += publish_seed({"type": "hook", "subtype": "pre_tool", "data": {"tool": "Bash"}})
first.wait("10 live events", count("claude_event", 10))
summary["published_before"] = live
summary["received_before"] = [event["sequence"] for event in first.received["claude_event"]]
summary["seed_event"] = first.received["claude_event"][-1]
summary["offsets_before"] = first.offsets
last_sequence = summary["received_before"][-1]
sio.emit("acknowledge_event", {"sequence": last_sequence})
first.wait("ack_confirmed", count("ack_confirmed", 1))
summary["ack_confirmed"] = first.received["ack_confirmed"][0]
sio.emit("ping", {"timestamp": 12345})
first.wait("pong", count("pong", 1))
summary["pong"] = first.received["pong"][0]
sio.disconnect()

# 2. Away: the relay keeps publishing.
missed = []
for start in range(0, MISSED, 250):
    missed += publish([{"topic": "missed", "data": {"n": i}} for i in range(start, min(start + 250, MISSED))])
summary["missed"] = missed

# 3. Back with last_sequence: exactly the missed events in one event_replay, then live.
sio, second = connect({"client_id": client_id, "last_sequence": last_sequence})
second.wait("event_replay", count("event_replay", 1))
replay = second.received["event_replay"][0]
summary["replay_sequences"] = [event["sequence"] for event in replay["events"]]
summary["replay_count"] = replay["count"]
summary["replay_from"] = replay["from_sequence"]
after = publish([{"topic": "live.after", "data": {"n": i}} for i in range(5)])
second.wait("5 live events after the replay", count("claude_event", 5))
summary["published_after"] = after
summary["received_after"] = [event["sequence"] for event in second.received["claude_event"]]
sio.emit("get_connection_stats", {})
second.wait("connection_stats", count("connection_stats", 1))
summary["stats_has_connections"] = "connections" in json.dumps(second.received["connection_stats"][0])
sio.disconnect()

print(json.dumps(summary), flush=True)
