// The dashboard page: status badge, quality, latency, toasts, the live event stream, charts of
// this page and of the relay, the connection timeline and the relay's client table. The
// connection itself is connection-manager.js; the figures over time are history.js.

import { ConnectionManager, settingsFromQuery } from './connection-manager.js';
import { isLive } from './connection-states.js';
import { qualityClass, latencyClass } from './quality.js';
import { DebugPanel } from './debug-panel.js';
import { MetricsHistory } from './history.js';
import { lineChart, stateStrip, percentile } from './charts.js';
import { Toasts } from './toasts.js';

const $ = (id) => document.getElementById(id);
const LABELS = {
  connected: 'Connected', connecting: 'Connecting', reconnecting: 'Reconnecting',
  disconnected: 'Disconnected', stale: 'Stale', failed: 'Failed',
};
const GAP_REASONS = {
  lag_cap: 'this page fell too far behind', ttl: 'they expired from the relay\'s log', evicted: 'the relay\'s log was full',
};
const MAX_ROWS = 500;
const COLUMNS = ['Client', 'State', 'Transport', 'Quality', 'Latency', 'Lag', 'Reconnects'];
// The charts show the last 5 minutes, or since the page opened (at least a minute) when that is
// shorter, so a young page's figures are not squeezed into the right edge.
const CHART_WINDOW_MS = 5 * 60 * 1000;
const pageOpened = Date.now();
const chartWindow = () => Math.min(CHART_WINDOW_MS, Math.max(60 * 1000, Math.ceil((Date.now() - pageOpened) / 60000) * 60000));

const settings = settingsFromQuery();
const connection = new ConnectionManager(settings);
const history = new MetricsHistory(connection);
const toasts = new Toasts($('toasts'));
const debugPanel = new DebugPanel($('debug-panel'), connection);
window.tether = { connection, debugPanel, history, toasts };

// ---- badge, quality, latency ------------------------------------------------------------------

function renderBadge() {
  const badge = $('connection-badge');
  const state = connection.state;
  badge.dataset.state = state;
  let text = LABELS[state] || state;
  if (state === 'reconnecting' && connection.nextDelay != null) {
    text += ` (attempt ${connection.attempt + 1}/${connection.settings.maxAttempts})`;
  }
  badge.querySelector('.badge-text').textContent = text;
  $('retry-button').hidden = !(state === 'failed' || state === 'disconnected');
  $('reconnect-info').textContent = state === 'reconnecting' && connection.nextDelay != null
    ? `next try in ${(connection.nextDelay / 1000).toFixed(1)} s` : '';
}

function renderQuality() {
  const metrics = connection.getMetrics();
  const live = isLive(metrics.state);
  const percent = Math.round(metrics.quality * 100);
  const bar = $('quality-bar');
  bar.dataset.level = qualityClass(metrics.quality, live);
  bar.setAttribute('aria-valuenow', String(live ? percent : 0));
  bar.setAttribute('aria-valuetext', live ? `${percent}%` : 'offline');
  bar.querySelector('.quality-fill').style.width = live ? `${percent}%` : '100%';
  $('quality-value').textContent = live ? `${percent}%` : 'offline';
  // A round trip measured before the connection was lost says nothing about now.
  const ms = live ? metrics.latencyMs : null;
  $('latency').dataset.level = latencyClass(ms);
  $('latency').textContent = ms == null ? '–' : `${ms.toFixed(1)} ms`;
  $('clients-table').classList.toggle('outdated', !live);
}

// ---- toasts: human text, from the close-code table for closes --------------------------------

connection.addEventListener('state', ({ detail }) => {
  renderBadge();
  renderQuality();
  if (detail.state === 'connected') {
    const text = detail.reason === 'reconnected' ? 'Reconnected; missed events are being replayed.'
      : detail.reason === 'traffic again' ? 'The connection is active again.' : 'Connected to the relay.';
    toasts.show(text, 'success');
  } else if (detail.state === 'stale') {
    toasts.show(`No traffic from the relay for ${Math.round(connection.staleTimeoutMs / 1000)} s; the connection may be stuck.`, 'warning');
  } else if (detail.state === 'failed' && detail.previous === 'reconnecting') {
    toasts.show(`Gave up after ${connection.attempt} attempts. ${connection.lastClose ? 'Last: ' + connection.lastClose.name.replace(/_/g, ' ') + '.' : ''} Use Retry now.`.trim(), 'error');
  }
});
connection.addEventListener('close', ({ detail }) => {
  const kind = detail.rule.action === 'fail' ? 'error' : detail.rule.action === 'stop' ? 'info' : 'warning';
  // After the state follows the close: a "reconnecting" text is wrong once the page gave up.
  queueMicrotask(() => {
    if (connection.state === 'failed' && detail.rule.action !== 'fail') return;
    toasts.show(detail.rule.text, kind);
  });
});
connection.addEventListener('backoff', renderBadge);
connection.addEventListener('gap', ({ detail }) => {
  const count = detail.count ?? (detail.to - detail.from + 1);
  toasts.show(`${count} events (${detail.from}–${detail.to}) will not arrive: ${GAP_REASONS[detail.reason] || detail.reason}.`, 'warning');
});
connection.addEventListener('relay-error', ({ detail }) => {
  if (detail.close == null) toasts.show(`The relay refused a request: ${detail.message}`, 'error');
});

// ---- the event stream -------------------------------------------------------------------------

let paused = false;
const held = []; // events received while paused, shown on resume
let shown = 0;

function matchesFilter(topic) {
  const filter = $('topic-filter').value.trim();
  return !filter || topic.includes(filter);
}

function eventRow(event) {
  const row = document.createElement('li');
  row.className = 'event';
  row.dataset.seq = String(event.seq);
  row.dataset.topic = event.topic;
  row.hidden = !matchesFilter(event.topic);
  const seq = document.createElement('span');
  seq.className = 'seq';
  seq.textContent = `#${event.seq}`;
  const topic = document.createElement('span');
  topic.className = 'topic';
  topic.textContent = event.topic;
  topic.title = event.topic;
  const time = document.createElement('time');
  time.dateTime = event.time;
  time.textContent = event.time ? new Date(event.time).toLocaleTimeString() : '';
  const data = document.createElement('code');
  data.className = 'data';
  data.textContent = JSON.stringify(event.data);
  data.title = data.textContent;
  row.append(seq, topic, time, data);
  return row;
}

function renderCount() {
  $('stream-count').textContent = `${shown} events${paused ? ` (${held.length} held)` : ''}`;
}

function showEvent(event) {
  const list = $('event-stream');
  list.prepend(eventRow(event));
  while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  shown += 1;
  renderCount();
}

connection.addEventListener('event', ({ detail }) => {
  if (paused) { held.push(detail); renderCount(); return; }
  showEvent(detail);
});

$('pause-button').addEventListener('click', () => {
  paused = !paused;
  $('pause-button').textContent = paused ? 'Resume' : 'Pause';
  $('pause-button').setAttribute('aria-pressed', String(paused));
  if (!paused) for (const event of held.splice(0)) showEvent(event);
  renderCount();
});
$('clear-stream-button').addEventListener('click', () => {
  $('event-stream').replaceChildren();
  shown = 0;
  renderCount();
});
$('topic-filter').addEventListener('input', () => {
  for (const row of $('event-stream').children) row.hidden = !matchesFilter(row.dataset.topic);
});

// ---- stats table ------------------------------------------------------------------------------

connection.addEventListener('stats', ({ detail }) => {
  const tbody = $('clients-table').querySelector('tbody');
  const rows = (detail?.clients || []).map((client) => {
    const row = document.createElement('tr');
    row.dataset.clientId = client.id;
    const mine = client.id === connection.clientId;
    if (mine) row.classList.add('me');
    const cells = [
      client.id + (mine ? ' (this page)' : ''),
      client.state,
      client.transport ?? '',
      typeof client.quality === 'number' ? `${Math.round(client.quality * 100)}%` : '–',
      typeof client.latency_milliseconds === 'number' ? `${client.latency_milliseconds.toFixed(1)} ms` : '–',
      client.lag ?? '–',
      client.reconnects ?? 0,
    ];
    for (const [index, value] of cells.entries()) {
      const cell = document.createElement('td');
      cell.textContent = String(value);
      cell.dataset.label = COLUMNS[index]; // shown before the value when the table is stacked (narrow screens)
      if (index === 0) cell.className = 'client-id';
      if (index === 1) cell.dataset.state = client.state;
      row.append(cell);
    }
    return row;
  });
  tbody.replaceChildren(...rows);
  const t = detail?.totals || {};
  $('totals').textContent = `head ${t.head_sequence ?? '–'} · ${t.active ?? 0} active of ${t.connections ?? 0} · published ${t.published ?? 0} · delivered ${t.delivered ?? 0} · log ${t.buffer_depth_events ?? 0} events`;
  $('clients-asof').textContent = `as of ${new Date().toLocaleTimeString()}`;
});

// ---- charts -----------------------------------------------------------------------------------

const trim = (text) => text.replace(/\.?0+$/, '');
const ms = (v) => (v >= 10 ? v.toFixed(0) : trim(v.toFixed(2)));
const count = (v) => (v >= 10 || Number.isInteger(v) ? v.toFixed(0) : trim(v.toFixed(2)));
const percent = (v) => `${Math.round(v * 100)}%`;

function renderCharts() {
  const windowMs = chartWindow();
  const since = Date.now() - windowMs;
  const rtts = history.latency.filter((s) => s.t >= since).map((s) => s.v);
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((p) => percentile(rtts, p));
  lineChart($('latency-chart'), {
    windowMs, unit: 'ms', format: ms,
    series: [{ name: 'round trip', className: 'latency', points: history.latency }],
    lines: [{ value: p50, label: 'p50', className: 'p50' }, { value: p95, label: 'p95', className: 'p95' }, { value: p99, label: 'p99', className: 'p99' }],
    markers: history.markers.filter((m) => m.kind !== 'gap').map((m) => ({ t: m.t, className: m.kind, label: m.label })),
  });
  const summary = $('latency-summary');
  if (rtts.length) {
    summary.textContent = `${rtts.length} pings · last ${ms(rtts[rtts.length - 1])} ms · p50 ${ms(p50)} · p95 ${ms(p95)} · p99 ${ms(p99)} ms`;
    summary.dataset.p50 = String(p50);
  }
  lineChart($('received-chart'), { windowMs, unit: '/s', format: count, floor: 4, series: [{ name: 'received', className: 'received', points: history.series(history.samples, 'received') }] });
  lineChart($('lag-chart'), { windowMs, format: count, height: 110, floor: 4, series: [{ name: 'lag', className: 'lag', points: history.series(history.relay, 'lag') }] });
  lineChart($('quality-chart'), {
    windowMs, max: 1, format: percent, height: 110,
    series: [{ name: 'quality (this page)', className: 'quality', points: history.series(history.samples, 'quality') },
      { name: 'quality (relay\'s view)', className: 'relay-quality', points: history.series(history.relay, 'relayQuality') }],
  });
  lineChart($('relay-rate-chart'), {
    windowMs, unit: '/s', format: count, floor: 4,
    series: [{ name: 'published', className: 'published', points: history.series(history.relay, 'published') },
      { name: 'delivered', className: 'delivered', points: history.series(history.relay, 'delivered') }],
  });
  lineChart($('relay-active-chart'), { windowMs, format: count, height: 110, floor: 4, series: [{ name: 'active connections', className: 'active', points: history.series(history.relay, 'active') }] });
  lineChart($('relay-quality-chart'), { windowMs, max: 1, format: percent, height: 110, series: [{ name: 'average quality', className: 'quality', points: history.series(history.relay, 'averageQuality') }] });
  stateStrip($('timeline-chart'), { windowMs, segments: history.segments, markers: history.markers.filter((m) => m.kind !== 'close') });
}

let chartFrame = null;
function scheduleCharts() {
  if (chartFrame == null) chartFrame = requestAnimationFrame(() => { chartFrame = null; renderCharts(); });
}
for (const type of ['latency', 'stats', 'state', 'gap']) connection.addEventListener(type, scheduleCharts);
window.addEventListener('resize', scheduleCharts);

// ---- publish form -----------------------------------------------------------------------------

$('publish-form').addEventListener('submit', (submit) => {
  submit.preventDefault();
  let data;
  try { data = JSON.parse($('publish-data').value || 'null'); } catch { toasts.show('The data is not valid JSON; nothing was published.', 'error'); return; }
  const id = connection.publish($('publish-topic').value.trim(), data);
  $('publish-status').textContent = connection.state === 'connected' ? `sent ${id}` : `buffered ${id} (offline)`;
});
connection.addEventListener('published', ({ detail }) => { $('publish-status').textContent = `published #${detail.seq}`; });

// ---- controls ---------------------------------------------------------------------------------

$('retry-button').addEventListener('click', () => connection.retry());
$('debug-button').addEventListener('click', () => debugPanel.toggle());
document.addEventListener('keydown', (key) => {
  if (key.ctrlKey && key.shiftKey && (key.key === 'D' || key.key === 'd')) {
    key.preventDefault();
    debugPanel.toggle();
  }
});

setInterval(() => { history.sample(); renderQuality(); scheduleCharts(); }, 1000);
renderBadge();
renderQuality();
connection.connect();
scheduleCharts();
