"""A Socket.IO client that presents a subscriber token, driven by SocketIOTransportTests.

Usage: token_connect.py BASE_URL TRANSPORT HEADER_TOKEN AUTH_TOKEN
  TRANSPORT: polling or websocket; HEADER_TOKEN is sent as Authorization: Bearer on the
  handshake, AUTH_TOKEN as auth.token in CONNECT; "-" sends none.

Connects without reconnection and waits briefly for connection_established; prints one JSON line
{"connected": bool, "established": bool, "connect_error": <what connect_error got>,
 "exception": <the connect() exception, if any>}.
"""
import json
import sys
import threading

import socketio

BASE, TRANSPORT, HEADER, AUTH = sys.argv[1:5]
result = {"connect_error": None, "exception": None, "established": False}
established = threading.Event()
sio = socketio.Client(reconnection=False)


@sio.event
def connect_error(data):
    result["connect_error"] = data


@sio.on("connection_established")
def on_established(data):
    result["established"] = True
    established.set()


headers = {"Authorization": "Bearer " + HEADER} if HEADER != "-" else {}
auth = {"token": AUTH} if AUTH != "-" else None
try:
    sio.connect(BASE, transports=[TRANSPORT], headers=headers, auth=auth, wait_timeout=20)
    established.wait(10)
except Exception as error:  # socketio.exceptions.ConnectionError
    result["exception"] = str(error)
result["connected"] = sio.connected
try:
    sio.disconnect()
except Exception:
    pass
print(json.dumps(result))
