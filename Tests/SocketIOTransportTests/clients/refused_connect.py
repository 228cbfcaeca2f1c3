"""A Socket.IO client that expects to be refused, driven by SocketIOTransportTests.

Usage: refused_connect.py BASE_URL TRANSPORT   (TRANSPORT: polling or websocket)

Connects without reconnection; prints one JSON line {"connect_error": <what the client's
connect_error handler got>, "exception": <the connect() exception, if any>, "connected": bool}.
"""
import json
import sys

import socketio

BASE, TRANSPORT = sys.argv[1], sys.argv[2]
result = {"connect_error": None, "exception": None}
sio = socketio.Client(reconnection=False)


@sio.event
def connect_error(data):
    result["connect_error"] = data


try:
    sio.connect(BASE, transports=[TRANSPORT], wait_timeout=20)
except Exception as error:  # socketio.exceptions.ConnectionError
    result["exception"] = str(error)
result["connected"] = sio.connected
try:
    sio.disconnect()
except Exception:
    pass
print(json.dumps(result))
