"""A Tether client written only from docs/PROTOCOL.md, with the `websockets` package from PyPI.

Usage: ws_resume_client.py ws://127.0.0.1:PORT/v1/ws

Says hello, publishes and receives five events (acking them), disconnects, lets a second
connection publish five more, resumes with client_id + resume_token + epoch + last_sequence,
and checks the replay, a ping, an echo and a stats request. Prints one JSON object with what it saw;
exits non-zero on any protocol surprise.
"""
import asyncio
import json
import sys

import websockets


async def frames(ws, wanted, count):
    """Reads until `count` frames of type `wanted` arrived; answers relay pings on the way."""
    seen, others = [], []
    while len(seen) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if frame["type"] == "ping":
            await ws.send(json.dumps({"type": "pong", "id": frame["id"]}))
        elif frame["type"] == wanted:
            seen.append(frame)
        else:
            others.append(frame)
    return seen, others


async def main(url):
    result = {}
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "topics": ["py"]}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        identity = {k: welcome[k] for k in ("client_id", "resume_token", "epoch")}
        for n in range(5):
            await ws.send(json.dumps({"type": "publish", "topic": "py", "data": {"n": n}, "id": f"py-{n}"}))
        events, others = await frames(ws, "event", 5)
        published = [f for f in others if f["type"] == "published"]
        while len(published) < 5:
            more, _ = await frames(ws, "published", 1)
            published += more
        result["first"] = [e["seq"] for e in events]
        result["published"] = sorted(p["seq"] for p in published)
        await ws.send(json.dumps({"type": "ack", "seq": events[-1]["seq"]}))
        last = events[-1]["seq"]

    async with websockets.connect(url) as other:
        await other.send(json.dumps({"type": "hello", "topics": ["nothing"]}))
        json.loads(await other.recv())
        for n in range(5, 10):
            await other.send(json.dumps({"type": "publish", "topic": "py", "data": {"n": n}, "id": f"py-{n}"}))
        await frames(other, "published", 5)

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", **identity, "last_sequence": last, "topics": ["py"]}))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        result["resumed_flag"] = welcome["resumed"]
        result["replay"] = welcome["replay"]
        events, _ = await frames(ws, "event", 5)
        result["resumed"] = [e["seq"] for e in events]
        result["data"] = [e["data"]["n"] for e in events]
        await ws.send(json.dumps({"type": "ack", "seq": events[-1]["seq"]}))
        await ws.send(json.dumps({"type": "ping", "id": "py-ping"}))
        pong, _ = await frames(ws, "pong", 1)
        result["pong"] = pong[0]["id"]
        await ws.send(json.dumps({"type": "echo", "id": "py-echo", "data": {"latency_ms": [1, 2.5]}}))
        echo, _ = await frames(ws, "echo", 1)
        result["echo"] = [echo[0]["id"], echo[0]["data"]]
        await ws.send(json.dumps({"type": "stats"}))
        stats, _ = await frames(ws, "stats", 1)
        result["stats_head"] = stats[0]["data"]["totals"]["head_sequence"]

    async with websockets.connect(url) as thief:
        await thief.send(json.dumps({"type": "hello", "client_id": identity["client_id"]}))
        error = json.loads(await thief.recv())
        result["thief_error"] = error["code"]
        try:
            await asyncio.wait_for(thief.recv(), 20)
        except websockets.ConnectionClosed as closed:
            result["thief_close"] = closed.rcvd.code if closed.rcvd else None

    print(json.dumps(result))


asyncio.run(main(sys.argv[1]))
