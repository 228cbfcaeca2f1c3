// The browser's connection to the relay: docs/PROTOCOL.md over one WebSocket, with a persistent
// identity, resume from the last processed sequence, backoff with jitter, heartbeats, latency
// pings, a stale detector, a local outbound buffer and duplicate suppression by seq.
//
// Events (a ConnectionManager is an EventTarget; `detail` carries the payload):
//   state     {state, previous, reason}      every state change
//   event     {seq, topic, time, data}      each new event (duplicates already dropped)
//   welcome   the welcome frame
//   gap       a declared gap (from welcome.replay.gap or a gap frame)
//   stats     the relay's stats document
//   latency   {rtt}                          each ping round trip
//   published {id, seq}                      a publish the relay accepted
//   timeline  {time, kind, message}          everything worth showing in the debug timeline
//   frame     {time, direction, frame}       every frame in and out (the event log viewer)

import { qualityScore } from './quality.js';

export const DEFAULTS = Object.freeze({
  url: null, // ws://<page host>/v1/ws
  baseDelay: 1000, // first reconnect delay, ms; doubles per attempt
  maxDelay: 30000, // ceiling of the reconnect delay, ms
  jitter: 0.3, // each delay is scaled by a random factor in [1 - jitter/2, 1 + jitter/2]
  maxAttempts: 10, // failed reconnect attempts before `failed`
  heartbeatInterval: 30000, // re-send the cumulative ack (keeps the relay's activity fresh)
  pingInterval: 10000, // JSON ping for latency
  activityTimeout: 120000, // no inbound frame this long: `stale`
  connectTimeout: 10000, // no welcome this long after opening: the attempt failed
  bufferSize: 100, // local outbound publishes kept while offline
  history: 50, // events to receive on a fresh start
  statsInterval: 5000, // how often the dashboard asks for /v1/stats over the socket (0: never)
  topics: '', // comma-separated topic subscription; empty: all
  token: '', // bearer token for relays that require one (docs/SECURITY.md); sent as ?token=
  stabilityDuration: 30000, // the debug panel's stability test, ms
});

/** The localStorage keys (documented in docs/DASHBOARD.md). */
export const KEYS = Object.freeze({
  clientId: 'tether.client_id',
  resumeToken: 'tether.resume_token',
  epoch: 'tether.epoch',
  lastSequence: 'tether.last_sequence',
  outbox: 'tether.outbox',
});

/** Settings from URL query parameters (`?maxAttempts=3&baseDelay=100`) over the defaults. */
export function settingsFromQuery(search = location.search) {
  const params = new URLSearchParams(search);
  const settings = { ...DEFAULTS };
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    if (!params.has(key)) continue;
    const raw = params.get(key);
    if (typeof fallback === 'number') {
      const n = Number(raw);
      if (Number.isFinite(n) && n >= 0) settings[key] = n;
    } else {
      settings[key] = raw;
    }
  }
  return settings;
}

/** Close codes after which reconnecting "as we were" would fail again (PROTOCOL.md). */
function isFatalClose(code) {
  return (code >= 4500 && code <= 4999) || [1002, 1003, 1007, 1008, 1009].includes(code);
}

export class ConnectionManager extends EventTarget {
  constructor(settings = {}, storage = window.localStorage) {
    super();
    this.settings = { ...DEFAULTS, ...settings };
    this.storage = storage;
    this.url = this.settings.url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
    if (this.settings.token) {
      // Browsers cannot set headers on a WebSocket; the relay also reads ?token= (docs/SECURITY.md).
      this.url += (this.url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(this.settings.token);
    }
    this.state = 'disconnected';
    this.ws = null;
    this.attempt = 0; // failed attempts since the last welcome
    this.nextDelay = null;
    this.reconnectTimer = null;
    this.timers = [];
    this.pingCounter = 0;
    this.pendingPings = new Map(); // id → {sent, resolve}
    this.ackTimer = null;
    this.lastAckSent = 0;
    this.connectionSeq = 0; // newest seq delivered on the current connection
    this.welcome = null;
    this.closingOnPurpose = false;
    this.metrics = {
      firstSeen: Date.now(),
      connectedSince: null,
      connectedMs: 0,
      lastInbound: Date.now(),
      reconnectTimes: [],
      reconnects: 0,
      attemptsTotal: 0,
      delivered: 0,
      acked: 0,
      unackedSince: null, // when the oldest unacknowledged event arrived
      duplicatesDropped: 0,
      gaps: 0,
      published: 0,
      framesIn: 0,
      framesOut: 0,
      rtt: null,
      rttSamples: [],
      lastDelays: [],
      lastClose: null,
    };
    this.outbox = this.#loadOutbox(); // publishes not yet sent (offline), persisted, at most bufferSize
    this.inflight = []; // publishes sent on this connection and not yet answered
    this.publishCounter = 0;
  }

  // ---- persistent position ------------------------------------------------------------------

  #get(key) { try { return this.storage.getItem(key); } catch { return null; } }
  #set(key, value) {
    try { value == null ? this.storage.removeItem(key) : this.storage.setItem(key, String(value)); } catch { /* quota, private mode */ }
  }
  get clientId() { return this.#get(KEYS.clientId); }
  get epoch() { return this.#get(KEYS.epoch); }
  /** The newest sequence processed, read from storage every time (never a page-load copy). */
  get lastSequence() {
    const raw = this.#get(KEYS.lastSequence);
    const n = raw == null ? NaN : Number(raw);
    return Number.isInteger(n) && n >= 0 ? n : null;
  }
  #loadOutbox() {
    try { return JSON.parse(this.#get(KEYS.outbox) || '[]').filter((p) => p && p.topic); } catch { return []; }
  }
  #saveOutbox() { this.#set(KEYS.outbox, this.outbox.length ? JSON.stringify(this.outbox) : null); }

  // ---- state --------------------------------------------------------------------------------

  #setState(state, reason = '') {
    if (state === this.state) return;
    const previous = this.state;
    const now = Date.now();
    if (previous === 'connected' || previous === 'stale') {
      if (this.metrics.connectedSince) this.metrics.connectedMs += now - this.metrics.connectedSince;
      this.metrics.connectedSince = null;
    }
    if ((state === 'connected' || state === 'stale') && !this.metrics.connectedSince) this.metrics.connectedSince = now;
    this.state = state;
    this.#timeline('state', `${previous} → ${state}${reason ? ` (${reason})` : ''}`);
    this.dispatchEvent(new CustomEvent('state', { detail: { state, previous, reason } }));
  }

  #timeline(kind, message) {
    this.dispatchEvent(new CustomEvent('timeline', { detail: { time: new Date().toISOString(), kind, message } }));
  }

  // ---- connecting ---------------------------------------------------------------------------

  /** Opens the connection (first attempt of a series). */
  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.state !== 'reconnecting') this.#setState('connecting');
    this.#open();
  }

  #open() {
    this.#teardownSocket();
    this.metrics.attemptsTotal += 1;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.closingOnPurpose = false;
    let welcomed = false;
    const connectTimer = setTimeout(() => { if (!welcomed && this.ws === ws) ws.close(4000, 'no welcome'); }, this.settings.connectTimeout);
    ws.onopen = () => this.#sendHello();
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame.type === 'welcome') { welcomed = true; clearTimeout(connectTimer); }
      this.#receive(frame);
    };
    ws.onclose = (close) => {
      clearTimeout(connectTimer);
      if (this.ws !== ws) return;
      this.#onClose(close, welcomed);
    };
  }

  #sendHello() {
    // batch: several events per frame (docs/PROTOCOL.md), far fewer frames at high rates.
    const hello = { type: 'hello', batch: true };
    const id = this.clientId;
    const token = this.#get(KEYS.resumeToken);
    if (id && token) { hello.client_id = id; hello.resume_token = token; }
    const last = this.lastSequence;
    const epoch = this.epoch;
    if (hello.client_id && last != null && epoch) { hello.epoch = epoch; hello.last_sequence = last; }
    else if (this.settings.history > 0) hello.history = this.settings.history;
    const topics = String(this.settings.topics || '').split(',').map((t) => t.trim()).filter(Boolean);
    if (topics.length) hello.topics = topics;
    this.#send(hello);
  }

  #onClose(close, welcomed) {
    this.#stopTimers();
    this.ws = null;
    this.#requeueInflight();
    this.metrics.lastClose = { code: close.code, reason: close.reason, at: new Date().toISOString() };
    this.#timeline('close', `socket closed: ${close.code}${close.reason ? ` ${close.reason}` : ''}`);
    for (const { reject } of this.pendingPings.values()) reject(new Error('connection closed'));
    this.pendingPings.clear();
    if (this.closingOnPurpose) return;
    if (!welcomed && this.state === 'reconnecting') this.attempt += 1;
    else if (!welcomed && this.state === 'connecting') this.attempt += 1;
    if (close.code === 4504) { this.#setState('disconnected', 'superseded by another connection of this client'); return; }
    if (close.code === 4501) { this.#set(KEYS.lastSequence, null); this.#timeline('resume', 'sequence refused (4501): starting over'); }
    else if (close.code === 4503) { this.#forgetIdentity(); this.#timeline('resume', 'identity refused (4503): taking a new one'); }
    else if (isFatalClose(close.code) && close.code !== 4501) { this.#setState('failed', `relay refused the connection (${close.code})`); return; }
    this.#scheduleReconnect(`closed ${close.code}`);
  }

  #scheduleReconnect(reason) {
    if (this.attempt >= this.settings.maxAttempts) {
      this.#setState('failed', `gave up after ${this.attempt} attempts`);
      return;
    }
    const base = Math.min(this.settings.maxDelay, this.settings.baseDelay * 2 ** this.attempt);
    const factor = 1 - this.settings.jitter / 2 + Math.random() * this.settings.jitter;
    const delay = Math.round(Math.min(this.settings.maxDelay, base * factor));
    this.nextDelay = delay;
    this.metrics.lastDelays.push(delay);
    if (this.metrics.lastDelays.length > 20) this.metrics.lastDelays.shift();
    this.#setState('reconnecting', reason);
    this.#timeline('backoff', `attempt ${this.attempt + 1} of ${this.settings.maxAttempts} in ${delay} ms`);
    this.dispatchEvent(new CustomEvent('backoff', { detail: { attempt: this.attempt + 1, delay } }));
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.#open(); }, delay);
  }

  #teardownSocket() {
    this.#requeueInflight();
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try { ws.close(1000, 'replaced'); } catch { /* already closed */ }
  }

  #forgetIdentity() {
    for (const key of [KEYS.clientId, KEYS.resumeToken, KEYS.epoch, KEYS.lastSequence]) this.#set(key, null);
  }

  // ---- frames -------------------------------------------------------------------------------

  #send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    this.metrics.framesOut += 1;
    this.dispatchEvent(new CustomEvent('frame', { detail: { time: new Date().toISOString(), direction: 'out', frame } }));
    return true;
  }

  #receive(frame) {
    this.metrics.framesIn += 1;
    this.metrics.lastInbound = Date.now();
    this.dispatchEvent(new CustomEvent('frame', { detail: { time: new Date().toISOString(), direction: 'in', frame } }));
    if (this.state === 'stale') this.#setState('connected', 'traffic again');
    switch (frame.type) {
      case 'welcome': return this.#onWelcome(frame);
      case 'event': return this.#onEvent(frame);
      case 'events':
        for (const event of Array.isArray(frame.events) ? frame.events : []) this.#onEvent({ type: 'event', ...event });
        return;
      case 'gap':
        this.metrics.gaps += 1;
        this.#timeline('gap', `gap ${frame.from}…${frame.to} (${frame.count}, ${frame.reason})`);
        this.dispatchEvent(new CustomEvent('gap', { detail: frame }));
        if (Number.isInteger(frame.to)) {
          if (frame.to > this.connectionSeq) this.connectionSeq = frame.to;
          if (frame.to > (this.lastSequence ?? 0)) this.#advance(frame.to);
        }
        return;
      case 'ping': return void this.#send({ type: 'pong', id: frame.id });
      case 'pong': {
        const pending = this.pendingPings.get(frame.id);
        if (!pending) return;
        this.pendingPings.delete(frame.id);
        const rtt = performance.now() - pending.sent;
        this.metrics.rtt = rtt;
        this.metrics.rttSamples.push({ at: Date.now(), rtt });
        if (this.metrics.rttSamples.length > 120) this.metrics.rttSamples.shift();
        this.dispatchEvent(new CustomEvent('latency', { detail: { rtt } }));
        pending.resolve(rtt);
        return;
      }
      case 'published': {
        this.metrics.published += 1;
        this.#settle(frame.id);
        this.dispatchEvent(new CustomEvent('published', { detail: frame }));
        return;
      }
      case 'stats': return void this.dispatchEvent(new CustomEvent('stats', { detail: frame.data }));
      case 'error':
        this.#timeline('error', `${frame.code}: ${frame.message}`);
        if (frame.id != null) this.#settle(frame.id);
        this.dispatchEvent(new CustomEvent('relay-error', { detail: frame }));
        return;
      default: return; // unknown frame types are ignored (PROTOCOL.md)
    }
  }

  #onWelcome(frame) {
    this.welcome = frame;
    this.connectionSeq = 0;
    this.lastAckSent = 0;
    const previousEpoch = this.epoch;
    this.#set(KEYS.clientId, frame.client_id);
    this.#set(KEYS.resumeToken, frame.resume_token);
    if (frame.replay?.reset || (previousEpoch && previousEpoch !== frame.epoch)) {
      this.#set(KEYS.lastSequence, null);
      this.#timeline('resume', 'relay log changed: position reset');
    }
    this.#set(KEYS.epoch, frame.epoch);
    if (frame.replay?.gap) {
      this.metrics.gaps += 1;
      this.#timeline('gap', `gap ${frame.replay.gap.from}…${frame.replay.gap.to} (${frame.replay.gap.reason})`);
      this.dispatchEvent(new CustomEvent('gap', { detail: frame.replay.gap }));
    }
    const wasReconnect = this.attempt > 0 || this.metrics.reconnects > 0 || this.state === 'reconnecting';
    if (this.state === 'reconnecting') {
      this.metrics.reconnects += 1;
      this.metrics.reconnectTimes.push(Date.now());
    }
    this.attempt = 0;
    this.nextDelay = null;
    this.#timeline('welcome', `${frame.resumed ? 'resumed' : 'new'} client ${frame.client_id}, head ${frame.head}, replay ${frame.replay?.count ?? 0}`);
    this.#setState('connected', wasReconnect ? 'reconnected' : 'welcome');
    this.dispatchEvent(new CustomEvent('welcome', { detail: frame }));
    this.#startTimers();
    this.#flushOutbox();
  }

  #onEvent(frame) {
    if (frame.seq > this.connectionSeq) this.connectionSeq = frame.seq;
    const last = this.lastSequence;
    if (last != null && frame.seq <= last) {
      // Delivered again after a resume (at least once): drop it, but ack it so the window moves.
      this.metrics.duplicatesDropped += 1;
      this.#scheduleAck();
      return;
    }
    this.metrics.delivered += 1;
    if (this.metrics.unackedSince == null) this.metrics.unackedSince = Date.now();
    this.#advance(frame.seq);
    this.dispatchEvent(new CustomEvent('event', { detail: frame }));
  }

  /** Records `seq` as processed (storage first, so a reload resumes after it) and acks soon. */
  #advance(seq) {
    this.#set(KEYS.lastSequence, seq);
    this.#scheduleAck();
  }

  #scheduleAck() {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => { this.ackTimer = null; this.#ack(); }, 25);
  }

  #ack() {
    // Only what this connection delivered may be acked (else: ack_beyond_delivered).
    const seq = this.connectionSeq;
    if (seq <= this.lastAckSent) return;
    if (this.#send({ type: 'ack', seq })) {
      this.metrics.acked = this.metrics.delivered;
      this.metrics.unackedSince = null;
      this.lastAckSent = seq;
    }
  }

  // ---- timers -------------------------------------------------------------------------------

  #startTimers() {
    this.#stopTimers();
    const every = (ms, fn) => { if (ms > 0) this.timers.push(setInterval(fn, ms)); };
    every(this.settings.heartbeatInterval, () => {
      if (this.connectionSeq > 0) this.#send({ type: 'ack', seq: this.connectionSeq });
      else this.ping().catch(() => {});
    });
    every(this.settings.pingInterval, () => this.ping().catch(() => {}));
    every(Math.max(250, Math.min(5000, this.settings.activityTimeout / 4)), () => {
      if (this.state === 'connected' && Date.now() - this.metrics.lastInbound > this.settings.activityTimeout) {
        this.#setState('stale', `no traffic for ${Math.round(this.settings.activityTimeout / 1000)} s`);
      }
    });
    every(this.settings.statsInterval, () => this.requestStats());
    this.ping().catch(() => {});
    this.requestStats();
  }

  #stopTimers() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  // ---- public API ---------------------------------------------------------------------------

  /** Sends a JSON ping; resolves with the round trip in ms. */
  ping(timeout = 5000) {
    return new Promise((resolve, reject) => {
      const id = `p-${++this.pingCounter}`;
      const entry = { sent: performance.now(), resolve, reject };
      if (!this.#send({ type: 'ping', id })) return reject(new Error('not connected'));
      this.pendingPings.set(id, entry);
      setTimeout(() => { if (this.pendingPings.delete(id)) reject(new Error('ping timed out')); }, timeout);
    });
  }

  requestStats() { return this.#send({ type: 'stats' }); }

  /**
   * Publishes an event. Kept in the local buffer until the relay answers `published`, so a
   * publish made offline (or lost with the connection) is sent, in order, after the reconnect;
   * its producer id makes the re-send idempotent. Returns the producer id.
   */
  publish(topic, data = null, id = null) {
    const entry = { topic, data, id: id || `${this.clientId || 'browser'}-${Date.now().toString(36)}-${++this.publishCounter}` };
    if ((this.state === 'connected' || this.state === 'stale') && this.#send({ type: 'publish', ...entry })) {
      this.inflight.push(entry);
    } else {
      this.outbox.push(entry);
      this.#trimOutbox();
      this.#saveOutbox();
    }
    return entry.id;
  }

  /** A publish the relay answered (accepted or refused) leaves the buffers. */
  #settle(id) {
    const index = this.inflight.findIndex((p) => p.id === id);
    if (index >= 0) { this.inflight.splice(index, 1); return; }
    const queued = this.outbox.findIndex((p) => p.id === id);
    if (queued >= 0) { this.outbox.splice(queued, 1); this.#saveOutbox(); }
  }

  #trimOutbox() {
    while (this.outbox.length > this.settings.bufferSize) {
      const dropped = this.outbox.shift();
      this.#timeline('buffer', `local buffer full: dropped publish ${dropped.id}`);
    }
  }

  /** Unanswered publishes of a lost connection go back to the front of the buffer, in order. */
  #requeueInflight() {
    if (!this.inflight.length) return;
    this.outbox = this.inflight.concat(this.outbox);
    this.inflight = [];
    this.#trimOutbox();
    this.#saveOutbox();
  }

  #flushOutbox() {
    if (!this.outbox.length) return;
    this.#timeline('buffer', `flushing ${this.outbox.length} buffered publishes`);
    const pending = this.outbox;
    this.outbox = [];
    for (const entry of pending) {
      if (this.#send({ type: 'publish', ...entry })) this.inflight.push(entry); else this.outbox.push(entry);
    }
    this.#saveOutbox();
  }

  /** Empties the local outbound buffer; returns how many publishes were dropped. */
  clearBuffer() {
    const count = this.outbox.length;
    this.outbox = [];
    this.#saveOutbox();
    this.#timeline('buffer', `cleared ${count} buffered publishes`);
    return count;
  }

  /** Closes and reconnects at once, attempt counter reset. */
  forceReconnect() {
    this.#timeline('action', 'force reconnect');
    this.closingOnPurpose = true;
    this.#stopTimers();
    this.#teardownSocket();
    clearTimeout(this.reconnectTimer);
    this.attempt = 0;
    this.#setState('reconnecting', 'forced');
    this.#open();
  }

  /** Drops the socket as if the network failed: the normal backoff path follows. */
  simulateDisconnect() {
    this.#timeline('action', 'simulate disconnect');
    const ws = this.ws;
    if (!ws) return;
    this.#stopTimers();
    ws.onclose = null;
    ws.onmessage = null;
    this.ws = null;
    try { ws.close(4000, 'simulated'); } catch { /* closed */ }
    this.#onClose({ code: 1006, reason: 'simulated disconnect' }, true);
  }

  /** Manual retry after `failed` (or `disconnected`): a fresh series of attempts. */
  retry() {
    this.#timeline('action', 'manual retry');
    this.attempt = 0;
    clearTimeout(this.reconnectTimer);
    this.#setState('reconnecting', 'manual retry');
    this.#open();
  }

  /** Closes on purpose; no reconnect. */
  disconnect() {
    this.closingOnPurpose = true;
    clearTimeout(this.reconnectTimer);
    this.#stopTimers();
    this.#teardownSocket();
    this.#setState('disconnected', 'closed by the user');
  }

  getMetrics() {
    const now = Date.now();
    const m = this.metrics;
    const connectedMs = m.connectedMs + (m.connectedSince ? now - m.connectedSince : 0);
    const recentReconnects = m.reconnectTimes.filter((t) => now - t < 15 * 60 * 1000).length;
    const { score, factors } = qualityScore({
      recentReconnects, delivered: m.delivered, acked: m.acked,
      overdue: m.unackedSince != null && now - m.unackedSince > 30000 ? m.delivered - m.acked : 0,
      connectedMs, sinceFirstSeenMs: now - m.firstSeen, silenceMs: now - m.lastInbound, rttMs: m.rtt,
    });
    return {
      state: this.state,
      url: this.url,
      clientId: this.clientId,
      epoch: this.epoch,
      lastSequence: this.lastSequence,
      quality: score,
      qualityFactors: factors,
      latencyMs: m.rtt,
      attempt: this.attempt,
      maxAttempts: this.settings.maxAttempts,
      nextDelayMs: this.nextDelay,
      recentDelaysMs: [...m.lastDelays],
      reconnects: m.reconnects,
      connectionAttempts: m.attemptsTotal,
      eventsReceived: m.delivered,
      eventsAcked: m.acked,
      duplicatesDropped: m.duplicatesDropped,
      gaps: m.gaps,
      publishedConfirmed: m.published,
      bufferedPublishes: this.outbox.length,
      inflightPublishes: this.inflight.length,
      bufferSize: this.settings.bufferSize,
      framesIn: m.framesIn,
      framesOut: m.framesOut,
      uptimeMs: connectedMs,
      sinceFirstSeenMs: now - m.firstSeen,
      lastInboundAgoMs: now - m.lastInbound,
      lastClose: m.lastClose,
      settings: { ...this.settings },
    };
  }
}
