// The connection debug panel (Ctrl+Shift+D): live metrics, the connection timeline, actions,
// network tests and the frame log. It only uses the ConnectionManager's public API. The network
// tests leave nothing behind on the relay: latency by pings, throughput by echoes (docs/PROTOCOL.md),
// never by publishing.

import { percentile } from './charts.js';

const MAX_ENTRIES = 300;

function button(id, label, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.id = id;
  element.textContent = label;
  element.addEventListener('click', onClick);
  return element;
}

function section(title, ...children) {
  const element = document.createElement('section');
  const heading = document.createElement('h3');
  heading.textContent = title;
  element.append(heading, ...children);
  return element;
}

export class DebugPanel {
  constructor(root, connection) {
    this.root = root;
    this.connection = connection;
    this.timeline = [];
    this.frames = [];
    this.refreshTimer = null;
    connection.addEventListener('timeline', ({ detail }) => this.#push(this.timeline, detail, 'debug-timeline', (e) => `${e.time.slice(11, 23)} ${e.kind}: ${e.message}`));
    connection.addEventListener('frame', ({ detail }) => this.#push(this.frames, detail, 'debug-frames', (e) => `${e.time.slice(11, 23)} ${e.direction === 'in' ? '←' : '→'} ${JSON.stringify(e.frame)}`));
    // Metrics follow what happens, not only the one-second refresh: a test's figures and the
    // events it caused are never shown against an older last sequence.
    for (const type of ['event', 'state', 'welcome', 'gap', 'published']) connection.addEventListener(type, () => this.#scheduleMetrics());
    this.#build();
  }

  #push(list, entry, elementId, format) {
    list.push(entry);
    if (list.length > MAX_ENTRIES) list.shift();
    if (this.root.hidden) return;
    const element = document.getElementById(elementId);
    const item = document.createElement('li');
    item.textContent = format(entry);
    element.prepend(item);
    while (element.children.length > MAX_ENTRIES) element.lastElementChild.remove();
  }

  #build() {
    const close = button('debug-close', 'Close', () => this.toggle(false));
    close.setAttribute('aria-label', 'Close debug panel');
    const header = document.createElement('header');
    const title = document.createElement('h2');
    title.textContent = 'Connection debug';
    header.append(title, close);

    this.metricsElement = document.createElement('dl');
    this.metricsElement.id = 'debug-metrics';

    const actions = document.createElement('div');
    actions.className = 'actions';
    actions.append(
      button('action-force-reconnect', 'Force reconnect', () => this.connection.forceReconnect()),
      button('action-request-stats', 'Request stats', () => this.connection.requestStats()),
      button('action-clear-buffer', 'Clear buffer', () => this.connection.clearBuffer()),
      button('action-simulate-disconnect', 'Simulate disconnect', () => this.connection.simulateDisconnect()),
      button('action-export-logs', 'Export logs', () => this.exportLogs()),
    );

    const tests = document.createElement('div');
    tests.className = 'tests';
    this.results = {};
    for (const [id, label, run] of [
      ['latency', 'Latency test', () => this.latencyTest()],
      ['throughput', 'Throughput test', () => this.throughputTest()],
      ['stability', 'Stability test', () => this.stabilityTest()],
    ]) {
      const row = document.createElement('div');
      row.className = 'test-row';
      const output = document.createElement('output');
      output.id = `${id}-test-result`;
      this.results[id] = output;
      row.append(button(`test-${id}`, label, run), output);
      if (id === 'stability') {
        this.progress = document.createElement('progress');
        this.progress.id = 'stability-progress';
        this.progress.max = 100;
        this.progress.value = 0;
        row.append(this.progress);
      }
      tests.append(row);
    }

    const timeline = document.createElement('ol');
    timeline.id = 'debug-timeline';
    timeline.className = 'log';
    const frames = document.createElement('ol');
    frames.id = 'debug-frames';
    frames.className = 'log';

    this.root.append(
      header,
      section('Metrics', this.metricsElement),
      section('Actions', actions),
      section('Network tests', tests),
      section('Timeline', timeline),
      section('Event log', frames),
    );
  }

  toggle(open = this.root.hidden) {
    this.root.hidden = !open;
    document.getElementById('debug-button')?.setAttribute('aria-expanded', String(open));
    clearInterval(this.refreshTimer);
    if (open) {
      this.#renderLists();
      this.renderMetrics();
      this.refreshTimer = setInterval(() => this.renderMetrics(), 1000);
      document.getElementById('debug-close').focus();
    }
  }

  #renderLists() {
    const fill = (id, list, format) => {
      const element = document.getElementById(id);
      element.replaceChildren(...list.slice().reverse().map((entry) => {
        const item = document.createElement('li');
        item.textContent = format(entry);
        return item;
      }));
    };
    fill('debug-timeline', this.timeline, (e) => `${e.time.slice(11, 23)} ${e.kind}: ${e.message}`);
    fill('debug-frames', this.frames, (e) => `${e.time.slice(11, 23)} ${e.direction === 'in' ? '←' : '→'} ${JSON.stringify(e.frame)}`);
  }

  #scheduleMetrics() {
    if (this.root.hidden || this.metricsFrame != null) return;
    this.metricsFrame = requestAnimationFrame(() => { this.metricsFrame = null; this.renderMetrics(); });
  }

  renderMetrics() {
    const m = this.connection.getMetrics();
    const rows = [
      ['State', m.state], ['Client id', m.clientId ?? '–'], ['Epoch', m.epoch ?? '–'],
      ['Last sequence', m.lastSequence ?? '–'], ['Quality', `${(m.quality * 100).toFixed(0)}%`],
      ['Latency', m.latencyMs == null ? '–' : `${m.latencyMs.toFixed(1)} ms`],
      ['Attempt', `${m.attempt}/${m.maxAttempts}`], ['Next delay', m.nextDelayMs == null ? '–' : `${m.nextDelayMs} ms`],
      ['Reconnects', m.reconnects], ['Events received', m.eventsReceived], ['Duplicates dropped', m.duplicatesDropped],
      ['Gaps', m.gaps], ['Buffered publishes', `${m.bufferedPublishes}/${m.bufferSize}`],
      ['Frames in/out', `${m.framesIn}/${m.framesOut}`], ['Uptime', `${(m.uptimeMs / 1000).toFixed(0)} s`],
      ['Last inbound', `${(m.lastInboundAgoMs / 1000).toFixed(1)} s ago`],
      ['Stale after', `${(m.staleTimeoutMs / 1000).toFixed(0)} s (${m.settings.activityTimeout ? 'page setting' : 'relay\'s welcome'})`],
      ['Last close', m.lastClose ? `${m.lastClose.code} ${m.lastClose.name}` : '–'],
    ];
    this.metricsElement.replaceChildren(...rows.flatMap(([name, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.dataset.metric = name.toLowerCase().replace(/[^a-z]+/g, '-');
      dd.textContent = String(value);
      return [dt, dd];
    }));
  }

  #report(id, text, value) {
    const output = this.results[id];
    output.textContent = text;
    if (value !== undefined) output.dataset.value = String(value);
  }

  /** `count` sequential pings; reports the median (and p95, min, max) round trip in ms. */
  async latencyTest(count = 20) {
    this.#report('latency', 'running…');
    const samples = [];
    for (let i = 0; i < count; i += 1) {
      try { samples.push(await this.connection.ping()); } catch { /* counted as lost */ }
    }
    this.renderMetrics();
    if (!samples.length) return this.#report('latency', 'failed: no pong', 'error');
    const [p50, p95] = [percentile(samples, 0.5), percentile(samples, 0.95)];
    const f = (v) => v.toFixed(2);
    this.#report('latency', `p50 ${f(p50)} ms, p95 ${f(p95)}, min ${f(Math.min(...samples))}, max ${f(Math.max(...samples))} (${samples.length}/${count} answered)`, p50.toFixed(3));
    return p50;
  }

  /**
   * Sends `count` event-sized echoes (docs/PROTOCOL.md: answered unchanged, nothing stored,
   * nothing fanned out), all at once, and times the last answer: messages per second through
   * the relay and back on this connection.
   */
  async throughputTest(count = 200, bytes = 256) {
    this.#report('throughput', 'running…');
    const payload = { test: 'throughput', padding: 'x'.repeat(bytes) };
    const started = performance.now();
    const answers = [];
    for (let i = 0; i < count; i += 1) answers.push(this.connection.echo({ i, ...payload }).then(() => true, () => false));
    const answered = (await Promise.all(answers)).filter(Boolean).length;
    const seconds = (performance.now() - started) / 1000;
    this.renderMetrics();
    if (answered < count) return this.#report('throughput', `failed: ${answered}/${count} echoes answered`, 'error');
    const rate = count / seconds;
    const kib = (count * JSON.stringify(payload).length * 2) / 1024 / seconds;
    this.#report('throughput', `${count} echoes in ${(seconds * 1000).toFixed(0)} ms: ${rate.toFixed(0)} messages/s, ${kib.toFixed(0)} KiB/s both ways (nothing published)`, rate.toFixed(1));
    return rate;
  }

  /** Pings once a second for `duration` ms (30 s by default), with progress. */
  async stabilityTest(duration = this.connection.settings.stabilityDuration ?? 30000) {
    const started = Date.now();
    const reconnectsBefore = this.connection.getMetrics().reconnects;
    let ok = 0;
    let lost = 0;
    this.progress.value = 0;
    while (Date.now() - started < duration) {
      try { await this.connection.ping(1000); ok += 1; } catch { lost += 1; }
      this.progress.value = Math.min(100, ((Date.now() - started) / duration) * 100);
      this.#report('stability', `${Math.round(this.progress.value)}%: ${ok} ok, ${lost} lost`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - ((Date.now() - started) % 1000))));
    }
    this.progress.value = 100;
    const reconnects = this.connection.getMetrics().reconnects - reconnectsBefore;
    this.renderMetrics();
    this.#report('stability', `done: ${ok} ok, ${lost} lost, ${reconnects} reconnects`, JSON.stringify({ ok, lost, reconnects }));
    return { ok, lost, reconnects };
  }

  /** Everything the panel knows, as a JSON download. */
  exportLogs() {
    const document_ = {
      exported_at: new Date().toISOString(),
      page: location.href,
      metrics: this.connection.getMetrics(),
      timeline: this.timeline,
      frames: this.frames,
    };
    const blob = new Blob([JSON.stringify(document_, null, 2)], { type: 'application/json' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `tether-debug-${document_.exported_at.replace(/[:.]/g, '-')}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    return document_;
  }
}
