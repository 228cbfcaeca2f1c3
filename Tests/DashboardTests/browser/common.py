"""Helpers shared by the dashboard's browser scenarios: the relay's HTTP API, a second
subscriber on a plain WebSocket, and waits on the page. Every wait is bounded."""

import json
import os
import time
import urllib.request

import websocket  # websocket-client

WAIT_MS = 20_000


def publish(base, topic, data):
    body = json.dumps({"topic": topic, "data": data}).encode()
    request = urllib.request.Request(base + "/v1/events", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["accepted"][0]


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.load(response)


def wait_state(page, state, timeout=WAIT_MS):
    page.wait_for_selector(f'#connection-badge[data-state="{state}"]', timeout=timeout)


def wait_seqs(page, seqs, timeout=WAIT_MS):
    selector = ",".join(f'#event-stream li[data-seq="{s}"]' for s in seqs)
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[selector, len(seqs)], timeout=timeout)


def stream_seqs(page):
    return page.eval_on_selector_all("#event-stream li", "rows => rows.map(r => Number(r.dataset.seq))")


def record_states(page):
    page.evaluate("""() => {
        window.__states = [];
        window.tether.connection.addEventListener('state', e => window.__states.push(e.detail.state));
    }""")


def wait_file(path, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no {path} within {timeout} s")


def open_debug_panel(page):
    page.keyboard.press("Control+Shift+D")
    page.wait_for_selector("#debug-panel:not([hidden])", timeout=WAIT_MS)


class Subscriber:
    """A second client of the relay, on its own WebSocket (docs/PROTOCOL.md): it says hello
    for live events only and counts every event that reaches it."""

    def __init__(self, base):
        self.ws = websocket.create_connection(base.replace("http", "ws", 1) + "/v1/ws", timeout=10)
        self.ws.send(json.dumps({"type": "hello", "history": 0}))
        welcome = json.loads(self.ws.recv())
        assert welcome["type"] == "welcome", welcome
        self.events = []

    def drain(self, quiet=1.0):
        """Reads until nothing has arrived for `quiet` seconds; returns the events seen so far."""
        self.ws.settimeout(quiet)
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return self.events
            if frame["type"] == "event":
                self.events.append(frame)
            elif frame["type"] == "events":
                self.events.extend(frame["events"])
            elif frame["type"] == "ping":
                self.ws.send(json.dumps({"type": "pong", "id": frame["id"]}))

    def close(self):
        self.ws.close()


def rect(page, selector):
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }")


def overlaps(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
