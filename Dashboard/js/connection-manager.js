// The browser's connection to the relay (docs/PROTOCOL.md on /v1/ws): a persistent identity,
// resume from the last processed sequence, duplicate suppression by seq, cumulative acks, and
// the reconnect rule of the shared close-code table. The parts live in their own modules:
//   transport.js          the socket, the hello, the connect timeout
//   connection-states.js  the states and the transition table
//   backoff.js            reconnect delays and the attempt counter
//   position-store.js     identity and position in localStorage
//   outbox.js             publishes waiting for a connection or an answer
//   health.js             pings, echoes, latency, activity
//   close-codes.js        what each close code means and what follows it
//   settings.js           the page's settings and their URL overrides
//
// Events (a ConnectionManager is an EventTarget; `detail` carries the payload):
//   state     {state, previous, reason}      every state change
//   close     {code, reason, rule}           every close the page did not ask for
//   event     {seq, topic, time, data}      each new event (duplicates already dropped)
//   welcome   the welcome frame
//   gap       a declared gap (from welcome.replay.gap or a gap frame)
//   stats     the relay's stats document
//   latency   {rtt}                          each ping round trip
//   published {id, seq}                      a publish the relay accepted
//   relay-error  the relay's error frame
//   backoff   {attempt, delay}
//   timeline  {time, kind, message}          everything worth showing in the debug timeline
//   frame     {time, direction, frame}       every frame in and out (the event log viewer)

import { closeRule } from './close-codes.js';
import { Backoff } from './backoff.js';
import { ConnectionStateMachine, isLive } from './connection-states.js';
import { Health } from './health.js';
import { Outbox } from './outbox.js';
import { KEYS, PositionStore } from './position-store.js';
import { qualityScore, relaySettings } from './quality.js';
import { DEFAULTS } from './settings.js';
import { Transport } from './transport.js';

export { KEYS };
export { DEFAULTS, settingsFromQuery } from './settings.js';

export class ConnectionManager extends EventTarget {
  constructor(settings = {}, storage = window.localStorage) {
    super();
    this.settings = { ...DEFAULTS, ...settings };
    let url = this.settings.url || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
    // Browsers cannot set headers on a WebSocket; the relay also reads ?token= (docs/SECURITY.md).
    if (this.settings.token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(this.settings.token);
    this.url = url;
    this.position = new PositionStore(storage);
    this.machine = new ConnectionStateMachine();
    this.backoff = new Backoff(this.settings);
    this.health = new Health((frame) => this.transport.send(frame));
    this.outbox = new Outbox(this.position, this.settings.bufferSize, (dropped) => this.#timeline('buffer', `local buffer full: dropped publish ${dropped.id}`));
    this.transport = new Transport(url, {
      connectTimeout: this.settings.connectTimeout,
      onOpen: () => this.#sendHello(),
      onFrame: (frame) => this.#receive(frame),
      onClose: (close, welcomed) => this.#onClose(close, welcomed),
      onSent: (frame) => { this.counters.framesOut += 1; this.#emit('frame', { time: new Date().toISOString(), direction: 'out', frame }); },
    });
    this.welcome = null;
    this.relay = relaySettings(null); // the relay's stale timeout and quality spans, from its welcome
    this.timers = [];
    this.ackTimer = null;
    this.lastAckSent = 0;
    this.connectionSeq = 0; // newest seq delivered on the current connection
    this.publishCounter = 0;
    this.firstSeen = Date.now();
    this.reconnectTimes = [];
    this.counters = { attempts: 0, delivered: 0, acked: 0, duplicates: 0, gaps: 0, published: 0, framesIn: 0, framesOut: 0 };
    this.unackedSince = null; // when the oldest unacknowledged event arrived
    this.lastClose = null;
  }

  get state() { return this.machine.state; }
  get attempt() { return this.backoff.attempt; }
  get nextDelay() { return this.backoff.nextDelay; }
  get clientId() { return this.position.clientId; }
  get epoch() { return this.position.epoch; }
  get lastSequence() { return this.position.lastSequence; }
  /** The stale timeout in force: the URL's override, else the relay's (from its welcome). */
  get staleTimeoutMs() { return this.settings.activityTimeout || this.relay.staleTimeoutMs; }

  #emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  #timeline(kind, message) { this.#emit('timeline', { time: new Date().toISOString(), kind, message }); }

  #move(next, reason = '') {
    const change = this.machine.move(next, reason);
    if (!change) return;
    this.#timeline('state', `${change.previous} → ${next}${reason ? ` (${reason})` : ''}`);
    this.#emit('state', change);
  }

  // ---- connecting ---------------------------------------------------------------------------

  /** Opens the connection (first attempt of a series). */
  connect() {
    this.backoff.cancel();
    if (this.state !== 'reconnecting') this.#move('connecting');
    this.#open();
  }

  #open() {
    this.counters.attempts += 1;
    this.transport.connect();
  }

  #sendHello() {
    // batch: several events per frame (docs/PROTOCOL.md), far fewer frames at high rates.
    const hello = { type: 'hello', batch: true };
    const { clientId, resumeToken, lastSequence, epoch } = this.position;
    if (clientId && resumeToken) { hello.client_id = clientId; hello.resume_token = resumeToken; }
    if (hello.client_id && lastSequence != null && epoch) { hello.epoch = epoch; hello.last_sequence = lastSequence; }
    else if (this.settings.history > 0) hello.history = this.settings.history;
    const topics = String(this.settings.topics || '').split(',').map((t) => t.trim()).filter(Boolean);
    if (topics.length) hello.topics = topics;
    this.transport.send(hello);
  }

  #onClose(close, welcomed) {
    this.#stopTimers();
    this.outbox.requeueInflight();
    this.health.abandon();
    const rule = closeRule(close.code);
    this.lastClose = { code: close.code, reason: close.reason, name: rule.name, at: new Date().toISOString() };
    this.#timeline('close', `socket closed: ${close.code} ${rule.name}${close.reason ? ` (${close.reason})` : ''}`);
    this.#emit('close', { code: close.code, reason: close.reason, rule });
    if (!welcomed) this.backoff.failed();
    switch (rule.action) {
      case 'stop': return this.#move('disconnected', rule.text);
      case 'fail': return this.#move('failed', rule.text);
      case 'reconnect_without_position':
        this.position.forgetPosition();
        this.#timeline('resume', `position refused (${close.code}): starting over`);
        break;
      case 'reconnect_as_new_client':
        this.position.forgetIdentity();
        this.#timeline('resume', `identity refused (${close.code}): taking a new one`);
        break;
      default: break;
    }
    this.#scheduleReconnect(rule.text);
  }

  #scheduleReconnect(reason) {
    if (this.backoff.exhausted) return this.#move('failed', `gave up after ${this.backoff.attempt} attempts`);
    this.#move('reconnecting', reason);
    const delay = this.backoff.schedule(() => this.#open());
    this.#timeline('backoff', `attempt ${this.backoff.attempt + 1} of ${this.settings.maxAttempts} in ${delay} ms`);
    this.#emit('backoff', { attempt: this.backoff.attempt + 1, delay });
  }

  // ---- frames -------------------------------------------------------------------------------

  #receive(frame) {
    this.counters.framesIn += 1;
    this.health.inbound();
    this.#emit('frame', { time: new Date().toISOString(), direction: 'in', frame });
    if (this.state === 'stale') this.#move('connected', 'traffic again');
    switch (frame.type) {
      case 'welcome': return this.#onWelcome(frame);
      case 'event': return this.#onEvent(frame);
      case 'events':
        for (const event of Array.isArray(frame.events) ? frame.events : []) this.#onEvent({ type: 'event', ...event });
        return;
      case 'gap': return this.#onGap(frame);
      case 'ping': return void this.transport.send({ type: 'pong', id: frame.id });
      case 'pong': {
        const rtt = this.health.answered('pong', frame.id);
        if (rtt != null) this.#emit('latency', { rtt });
        return;
      }
      case 'echo': return void this.health.answered('echo', frame.id);
      case 'published':
        this.counters.published += 1;
        this.outbox.settle(frame.id);
        return this.#emit('published', frame);
      case 'stats': return this.#emit('stats', frame.data);
      case 'error':
        this.#timeline('error', `${frame.code}: ${frame.message}`);
        if (frame.id != null) this.outbox.settle(frame.id);
        return this.#emit('relay-error', frame);
      default: return; // unknown frame types are ignored (PROTOCOL.md)
    }
  }

  #onWelcome(frame) {
    this.welcome = frame;
    this.relay = relaySettings(frame);
    this.connectionSeq = 0;
    this.lastAckSent = 0;
    if (this.position.remember(frame)) this.#timeline('resume', 'relay log changed: position reset');
    if (frame.replay?.gap) this.#onGap(frame.replay.gap, false);
    const wasReconnect = this.state === 'reconnecting';
    if (wasReconnect) this.reconnectTimes.push(Date.now());
    this.backoff.reset();
    this.#timeline('welcome', `${frame.resumed ? 'resumed' : 'new'} client ${frame.client_id}, head ${frame.head}, replay ${frame.replay?.count ?? 0}`);
    this.#move('connected', wasReconnect ? 'reconnected' : 'welcome');
    this.#emit('welcome', frame);
    this.#startTimers();
    const flushed = this.outbox.flush((entry) => this.transport.send({ type: 'publish', ...entry }));
    if (flushed) this.#timeline('buffer', `sent ${flushed} buffered publishes`);
  }

  #onGap(gap, live = true) {
    this.counters.gaps += 1;
    this.#timeline('gap', `gap ${gap.from}…${gap.to} (${gap.count}, ${gap.reason})`);
    this.#emit('gap', gap);
    if (live && Number.isInteger(gap.to)) {
      if (gap.to > this.connectionSeq) this.connectionSeq = gap.to;
      if (gap.to > (this.lastSequence ?? 0)) this.#advance(gap.to);
    }
  }

  #onEvent(frame) {
    if (frame.seq > this.connectionSeq) this.connectionSeq = frame.seq;
    const last = this.lastSequence;
    if (last != null && frame.seq <= last) {
      // Delivered again after a resume (at least once): drop it, but ack it so the window moves.
      this.counters.duplicates += 1;
      this.#scheduleAck();
      return;
    }
    this.counters.delivered += 1;
    if (this.unackedSince == null) this.unackedSince = Date.now();
    this.#advance(frame.seq);
    this.#emit('event', frame);
  }

  /** Records `seq` as processed (storage first, so a reload resumes after it) and acks soon. */
  #advance(seq) {
    this.position.lastSequence = seq;
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
    if (this.transport.send({ type: 'ack', seq })) {
      this.counters.acked = this.counters.delivered;
      this.unackedSince = null;
      this.lastAckSent = seq;
    }
  }

  // ---- timers -------------------------------------------------------------------------------

  #startTimers() {
    this.#stopTimers();
    const every = (ms, fn) => { if (ms > 0) this.timers.push(setInterval(fn, ms)); };
    every(this.settings.heartbeatInterval, () => {
      if (this.connectionSeq > 0) this.transport.send({ type: 'ack', seq: this.connectionSeq });
      else this.ping().catch(() => {});
    });
    every(this.settings.pingInterval, () => this.ping().catch(() => {}));
    every(Math.max(250, Math.min(5000, this.staleTimeoutMs / 4)), () => {
      if (this.state === 'connected' && this.health.silenceMs() > this.staleTimeoutMs) {
        this.#move('stale', `no traffic for ${Math.round(this.staleTimeoutMs / 1000)} s`);
      }
    });
    every(this.settings.statsInterval, () => this.requestStats());
    if (this.settings.pingInterval > 0) this.ping().catch(() => {});
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
  ping(timeout = 5000) { return this.health.ping(timeout); }

  /** Sends an echo of `data` (docs/PROTOCOL.md): nothing stored, nothing fanned out. */
  echo(data, timeout = 15000) { return this.health.echo(data, timeout); }

  requestStats() { return this.transport.send({ type: 'stats' }); }

  /**
   * Publishes an event. Kept in the local buffer until the relay answers `published`, so a
   * publish made offline (or lost with the connection) is sent, in order, after the reconnect;
   * its producer id makes the re-send idempotent. Returns the producer id.
   */
  publish(topic, data = null, id = null) {
    const entry = { topic, data, id: id || `${this.clientId || 'browser'}-${Date.now().toString(36)}-${++this.publishCounter}` };
    if (isLive(this.state) && this.transport.send({ type: 'publish', ...entry })) this.outbox.sent(entry);
    else this.outbox.queue(entry);
    return entry.id;
  }

  /** Empties the local outbound buffer; returns how many publishes were dropped. */
  clearBuffer() {
    const count = this.outbox.clear();
    this.#timeline('buffer', `cleared ${count} buffered publishes`);
    return count;
  }

  #restart(reason) {
    this.#stopTimers();
    this.transport.close(1000, reason);
    this.outbox.requeueInflight();
    this.health.abandon();
    this.backoff.reset();
    this.#move('reconnecting', reason);
    this.#open();
  }

  /** Closes and reconnects at once, attempt counter reset. */
  forceReconnect() {
    this.#timeline('action', 'force reconnect');
    this.#restart('forced');
  }

  /** Manual retry after `failed` (or `disconnected`): a fresh series of attempts. */
  retry() {
    this.#timeline('action', 'manual retry');
    this.#restart('manual retry');
  }

  /** Drops the socket as if the network failed: the normal backoff path follows. */
  simulateDisconnect() {
    this.#timeline('action', 'simulate disconnect');
    this.transport.drop();
  }

  /** Closes on purpose; no reconnect. */
  disconnect() {
    this.backoff.cancel();
    this.#stopTimers();
    this.transport.close(1000, 'closed by the user');
    this.outbox.requeueInflight();
    this.#move('disconnected', 'closed by the user');
  }

  /** The client-side quality score with the relay's spans. */
  quality(now = Date.now()) {
    const c = this.counters;
    return qualityScore({
      recentReconnects: this.reconnectTimes.filter((t) => now - t < this.relay.reconnectWindowMs).length,
      delivered: c.delivered, acked: c.acked,
      overdue: this.unackedSince != null && now - this.unackedSince > this.relay.ackTimeoutMs ? c.delivered - c.acked : 0,
      connectedMs: this.machine.liveMsUntil(now), sinceFirstSeenMs: now - this.firstSeen,
      silenceMs: this.health.silenceMs(now), staleTimeoutMs: this.staleTimeoutMs, rttMs: this.health.rtt,
    });
  }

  getMetrics() {
    const now = Date.now();
    const { score, factors } = this.quality(now);
    const c = this.counters;
    return {
      state: this.state,
      url: this.url,
      clientId: this.clientId,
      epoch: this.epoch,
      lastSequence: this.lastSequence,
      quality: score,
      qualityFactors: factors,
      latencyMs: this.health.rtt,
      attempt: this.backoff.attempt,
      maxAttempts: this.settings.maxAttempts,
      nextDelayMs: this.backoff.nextDelay,
      recentDelaysMs: [...this.backoff.recentDelays],
      reconnects: this.reconnectTimes.length,
      connectionAttempts: c.attempts,
      eventsReceived: c.delivered,
      eventsAcked: c.acked,
      duplicatesDropped: c.duplicates,
      gaps: c.gaps,
      publishedConfirmed: c.published,
      bufferedPublishes: this.outbox.queued.length,
      inflightPublishes: this.outbox.inflight.length,
      bufferSize: this.settings.bufferSize,
      framesIn: c.framesIn,
      framesOut: c.framesOut,
      uptimeMs: this.machine.liveMsUntil(now),
      sinceFirstSeenMs: now - this.firstSeen,
      lastInboundAgoMs: this.health.silenceMs(now),
      lastClose: this.lastClose,
      staleTimeoutMs: this.staleTimeoutMs,
      relaySettings: { ...this.relay },
      settings: { ...this.settings },
    };
  }
}
