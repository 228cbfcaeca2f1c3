// How the connection is doing: round trips (JSON `ping` for latency, `echo` for the throughput
// test; both docs/PROTOCOL.md, neither leaves anything in the relay's log), inbound activity and
// the stale detector. Health owns the pending round trips, the latency samples and the time of
// the last inbound frame; the stale timeout is the relay's (from its welcome).

export class Health {
  constructor(send) {
    this.send = send; // frame → boolean (false when not connected)
    this.pending = new Map(); // `${type}:${id}` → {sent, resolve, reject, timer}
    this.counter = 0;
    this.rtt = null;
    this.samples = []; // {at, rtt}, newest last, at most 600
    this.lastInbound = Date.now();
  }

  inbound() { this.lastInbound = Date.now(); }
  silenceMs(now = Date.now()) { return now - this.lastInbound; }

  #request(type, frame, timeout) {
    return new Promise((resolve, reject) => {
      const id = ++this.counter;
      const key = `${type}:${id}`;
      if (!this.send({ type, id, ...frame })) return reject(new Error('not connected'));
      const timer = setTimeout(() => { if (this.pending.delete(key)) reject(new Error(`${type} timed out`)); }, timeout);
      this.pending.set(key, { sent: performance.now(), resolve, reject, timer });
    });
  }

  /** A JSON ping; resolves with the round trip in ms (also recorded as the latency). */
  ping(timeout = 5000) { return this.#request('ping', {}, timeout); }

  /** An echo of `data`; resolves with the round trip in ms. Nothing is stored or fanned out. */
  echo(data, timeout = 15000) { return this.#request('echo', { data }, timeout); }

  /** A pong or echo answer; returns the round trip, or null if it answers nothing pending. */
  answered(type, id) {
    const key = `${type === 'pong' ? 'ping' : type}:${id}`;
    const entry = this.pending.get(key);
    if (!entry) return null;
    this.pending.delete(key);
    clearTimeout(entry.timer);
    const rtt = performance.now() - entry.sent;
    if (type === 'pong') {
      this.rtt = rtt;
      this.samples.push({ at: Date.now(), rtt });
      if (this.samples.length > 600) this.samples.shift();
    }
    entry.resolve(rtt);
    return rtt;
  }

  /** The connection ended: every pending round trip fails. */
  abandon() {
    for (const entry of this.pending.values()) { clearTimeout(entry.timer); entry.reject(new Error('connection closed')); }
    this.pending.clear();
  }
}
