#!/usr/bin/env python3
"""Stock-client subscribers for tether-peer-bench: `count` subscribers of Tether's WebSocket
protocol in one process, on the PyPI `websockets` package (asyncio), written as a user would
follow docs/PROTOCOL.md's reference client: `hello` with a fixed `client_id`/`resume_token`, the
topic, and `batch: true` (unless `--batch 0`); every frame decoded with `json.loads`; one
cumulative `ack` after 32 processed events or 20 ms, whichever comes first; relay `ping` frames
answered with `pong`.

It speaks the subscriber-process contract of `tether-peer-bench subscribe` (SubscriberProcess.swift):
prints `ready` once every subscriber has its `welcome`, then one JSON line when each has received
the run's `events` (or the timeout passed) with the same keys (received, missing, duplicates,
out_of_order, last_micros, cpu_seconds, errors, frames, latencies_ms). Events are checked against
the producer's numbering (the payload's `n`, 0..<events), as Tally.swift does.
"""
import argparse
import asyncio
import json
import os
import sys
import time

import websockets
from websockets.asyncio.client import connect

ACK_EVERY = 32
ACK_AFTER = 0.020


def micros():
    return time.time_ns() // 1000


class Subscriber:
    """One connection and its tally; all of it runs on the process's one asyncio loop."""

    def __init__(self, args, index, state):
        self.args = args
        self.client_id = f"{args.prefix}-{index}"
        self.state = state
        self.seen = bytearray(args.events)
        self.unique = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.highest_n = -1
        self.last_micros = 0
        self.frames = 0
        self.latencies = [] if args.latencies else None
        self.highest_seq = 0
        self.acked_seq = 0
        self.unacked = 0
        self.ack_timer = None
        self.ws = None
        self.welcomed = asyncio.get_running_loop().create_future()
        self.complete = asyncio.get_running_loop().create_future()

    async def run(self):
        url = f"ws://127.0.0.1:{self.args.port}/v1/ws"
        try:
            async with connect(url, max_size=None, ping_interval=None) as ws:
                self.ws = ws
                hello = {"type": "hello", "client_id": self.client_id,
                         "resume_token": f"token-{self.client_id}", "topics": [self.args.topic]}
                if self.args.batch:
                    hello["batch"] = True
                await ws.send(json.dumps(hello))
                async for text in ws:
                    await self.message(json.loads(text))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a failure is counted, never hidden
            self.state.error(f"{self.client_id}: {error!r}")
        finally:
            if not self.welcomed.done():
                self.welcomed.set_exception(RuntimeError(f"{self.client_id}: closed before its welcome"))

    async def message(self, frame):
        kind = frame.get("type")
        if kind == "events":
            self.frames += 1
            for event in frame["events"]:
                self.deliver(event)
        elif kind == "event":
            self.frames += 1
            self.deliver(frame)
        elif kind == "welcome":
            self.welcomed.set_result(None)
            return
        elif kind == "ping":
            frame["type"] = "pong"
            await self.ws.send(json.dumps(frame))
            return
        elif kind in ("error", "gap"):
            # A gap is a declared loss: counted as an error, so a run with one is not clean.
            self.state.error(f"relay: {json.dumps(frame)[:300]}")
            return
        else:
            return
        if self.unacked >= ACK_EVERY:
            await self.ack()
        elif self.unacked and self.ack_timer is None:
            self.ack_timer = asyncio.get_running_loop().call_later(ACK_AFTER, self.ack_soon)

    def deliver(self, event):
        now = micros()
        self.highest_seq = max(self.highest_seq, event["seq"])
        self.unacked += 1
        data = event.get("data")
        n = data.get("n", -1) if isinstance(data, dict) else -1
        if not 0 <= n < self.args.events:
            return
        if self.seen[n]:
            self.duplicates += 1
            return
        if n < self.highest_n:
            self.out_of_order += 1
        self.highest_n = max(self.highest_n, n)
        self.seen[n] = 1
        self.unique += 1
        self.last_micros = now
        if self.latencies is not None:
            self.latencies.append((now - data["t"]) / 1000)
        if self.unique == self.args.events and not self.complete.done():
            self.complete.set_result(None)

    def ack_soon(self):
        self.ack_timer = None
        asyncio.ensure_future(self.ack())

    async def ack(self):
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        if self.highest_seq > self.acked_seq and self.ws is not None:
            self.acked_seq = self.highest_seq
            self.unacked = 0
            try:
                await self.ws.send(json.dumps({"type": "ack", "seq": self.highest_seq}))
            except websockets.ConnectionClosed:
                pass


class State:
    def __init__(self):
        self.errors = []

    def error(self, message):
        if len(self.errors) < 5:
            self.errors.append(message)


async def main(args):
    state = State()
    subscribers = [Subscriber(args, index, state) for index in range(args.count)]
    tasks = [asyncio.create_task(s.run()) for s in subscribers]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.welcomed for s in subscribers)), timeout=30)
    except Exception as error:
        print(f"not ready: {error!r} {state.errors}", flush=True)
        return 1
    cpu_at_ready = time.process_time()
    print("ready", flush=True)
    # A subscriber process never outlives the run that started it.
    parent = os.getppid()
    deadline = time.monotonic() + args.timeout
    pending = [s.complete for s in subscribers]
    while time.monotonic() < deadline and not all(f.done() for f in pending):
        if os.getppid() != parent:
            return 1
        await asyncio.wait(pending, timeout=min(1.0, max(0.0, deadline - time.monotonic())))
    await asyncio.sleep(0.05)  # late duplicates still count, as in the Swift subscriber
    cpu = time.process_time() - cpu_at_ready
    result = {
        "received": sum(s.unique for s in subscribers),
        "missing": sum(args.events - s.unique for s in subscribers),
        "duplicates": sum(s.duplicates for s in subscribers),
        "out_of_order": sum(s.out_of_order for s in subscribers),
        "last_micros": max(s.last_micros for s in subscribers),
        "cpu_seconds": cpu,
        "frames": sum(s.frames for s in subscribers),
        "errors": state.errors,
    }
    latencies = [x for s in subscribers if s.latencies for x in s.latencies]
    if latencies:
        result["latencies_ms"] = latencies
    for s in subscribers:
        if s.ws is not None:
            await s.ws.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--latencies", type=int, default=0)
    sys.exit(asyncio.run(main(parser.parse_args())))
