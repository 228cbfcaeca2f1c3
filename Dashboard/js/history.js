// What the charts draw: the page's and the relay's figures over time. MetricsHistory owns the
// sampled series (one sample a second, the last `keepMs`), the state segments of the connection
// timeline and its reconnect/gap markers; it listens to the ConnectionManager and never changes it.

export class MetricsHistory {
  constructor(connection, keepMs = 10 * 60 * 1000) {
    this.connection = connection;
    this.keepMs = keepMs;
    this.samples = []; // {t, received, quality, live}
    this.relay = []; // {t, published, delivered, active, averageQuality, lag} from /v1/stats
    this.latency = []; // {t, v}: every ping round trip
    this.segments = [{ from: Date.now(), to: null, state: connection.state }];
    this.markers = []; // {t, kind: 'reconnect' | 'gap' | 'close', label}
    this.receivedSinceSample = 0;
    this.lastStats = null;

    connection.addEventListener('event', () => { this.receivedSinceSample += 1; });
    connection.addEventListener('latency', ({ detail }) => this.#push(this.latency, { t: Date.now(), v: detail.rtt }));
    connection.addEventListener('state', ({ detail }) => {
      const now = Date.now();
      this.segments[this.segments.length - 1].to = now;
      this.segments.push({ from: now, to: null, state: detail.state });
      if (detail.state === 'connected' && detail.reason === 'reconnected') this.#mark(now, 'reconnect', 'reconnected');
      while (this.segments.length > 2 && (this.segments[1].to ?? now) < now - this.keepMs) this.segments.shift();
    });
    connection.addEventListener('close', ({ detail }) => this.#mark(Date.now(), 'close', `closed ${detail.code} (${detail.rule.name})`));
    connection.addEventListener('gap', ({ detail }) => this.#mark(Date.now(), 'gap', `gap ${detail.from}…${detail.to} (${detail.count ?? '?'} events, ${detail.reason})`));
    connection.addEventListener('stats', ({ detail }) => this.#stats(detail));
  }

  #push(list, sample) {
    list.push(sample);
    while (list.length && list[0].t < sample.t - this.keepMs) list.shift();
  }

  #mark(t, kind, label) { this.#push(this.markers, { t, kind, label }); }

  /** Rates from two stats documents: events per second published and delivered relay-wide. */
  #stats(document_) {
    const now = Date.now();
    const totals = document_?.totals || {};
    const me = (document_?.clients || []).find((client) => client.id === this.connection.clientId);
    let published = null;
    let delivered = null;
    if (this.lastStats && now > this.lastStats.t) {
      const seconds = (now - this.lastStats.t) / 1000;
      published = Math.max(0, (totals.published - this.lastStats.published) / seconds);
      delivered = Math.max(0, (totals.delivered - this.lastStats.delivered) / seconds);
    }
    this.lastStats = { t: now, published: totals.published ?? 0, delivered: totals.delivered ?? 0 };
    this.#push(this.relay, {
      t: now, published, delivered, active: totals.active ?? null,
      averageQuality: typeof totals.average_quality === 'number' ? totals.average_quality : null,
      lag: typeof me?.lag === 'number' ? me.lag : null,
      relayQuality: typeof me?.quality === 'number' ? me.quality : null,
    });
  }

  /** One sample of the page's own figures; called once a second. */
  sample() {
    const metrics = this.connection.getMetrics();
    const live = metrics.state === 'connected' || metrics.state === 'stale';
    this.#push(this.samples, { t: Date.now(), received: this.receivedSinceSample, quality: live ? metrics.quality : null });
    this.receivedSinceSample = 0;
  }

  series(list, key) { return list.map((s) => ({ t: s.t, v: s[key] })); }
}
