// The dashboard page: status badge, quality, latency, toasts, the live event stream, the
// relay's client table and a latency chart. The connection itself is connection-manager.js.

import { ConnectionManager, settingsFromQuery } from './connection-manager.js';
import { qualityClass, latencyClass } from './quality.js';
import { DebugPanel } from './debug-panel.js';

const $ = (id) => document.getElementById(id);
const LABELS = {
  connected: 'Connected', connecting: 'Connecting', reconnecting: 'Reconnecting',
  disconnected: 'Disconnected', stale: 'Stale', failed: 'Failed',
};
const MAX_ROWS = 500;

const settings = settingsFromQuery();
const connection = new ConnectionManager(settings);
const debugPanel = new DebugPanel($('debug-panel'), connection);
window.tether = { connection, debugPanel };

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
  const percent = Math.round(metrics.quality * 100);
  const bar = $('quality-bar');
  bar.dataset.level = qualityClass(metrics.quality);
  bar.setAttribute('aria-valuenow', String(percent));
  bar.querySelector('.quality-fill').style.width = `${percent}%`;
  $('quality-value').textContent = `${percent}%`;
  const latency = $('latency');
  // A round trip measured before the connection was lost says nothing about now.
  const live = metrics.state === 'connected' || metrics.state === 'stale';
  const ms = live ? metrics.latencyMs : null;
  latency.dataset.level = latencyClass(ms);
  latency.textContent = ms == null ? '–' : `${ms.toFixed(1)} ms`;
  $('clients-table').classList.toggle('outdated', !live);
}

// ---- toasts -----------------------------------------------------------------------------------

function toast(message, kind = 'info') {
  const element = document.createElement('div');
  element.className = `toast toast-${kind}`;
  element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  element.textContent = message;
  $('toasts').append(element);
  setTimeout(() => element.remove(), 5000);
}

connection.addEventListener('state', ({ detail }) => {
  renderBadge();
  renderQuality();
  const kinds = { connected: 'success', reconnecting: 'warning', failed: 'error', stale: 'warning', disconnected: 'info' };
  if (detail.state === 'connecting') return;
  const message = detail.state === 'connected'
    ? (detail.reason === 'reconnected' ? 'Reconnected' : detail.reason === 'traffic again' ? 'Connection active again' : 'Connected')
    : `${LABELS[detail.state]}${detail.reason ? `: ${detail.reason}` : ''}`;
  toast(message, kinds[detail.state]);
});
connection.addEventListener('backoff', renderBadge);
connection.addEventListener('gap', ({ detail }) => toast(`Missed events ${detail.from}…${detail.to} (${detail.reason})`, 'warning'));
connection.addEventListener('relay-error', ({ detail }) => toast(`Relay: ${detail.code}`, 'error'));

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
  const time = document.createElement('time');
  time.dateTime = event.time;
  time.textContent = event.time ? new Date(event.time).toLocaleTimeString() : '';
  const data = document.createElement('code');
  data.className = 'data';
  data.textContent = JSON.stringify(event.data);
  row.append(seq, topic, time, data);
  return row;
}

function showEvent(event) {
  const list = $('event-stream');
  list.prepend(eventRow(event));
  while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  shown += 1;
  $('stream-count').textContent = `${shown} events${paused ? ` (${held.length} held)` : ''}`;
}

connection.addEventListener('event', ({ detail }) => {
  if (paused) { held.push(detail); $('stream-count').textContent = `${shown} events (${held.length} held)`; return; }
  showEvent(detail);
});

$('pause-button').addEventListener('click', () => {
  paused = !paused;
  $('pause-button').textContent = paused ? 'Resume' : 'Pause';
  $('pause-button').setAttribute('aria-pressed', String(paused));
  if (!paused) for (const event of held.splice(0)) showEvent(event);
});
$('clear-stream-button').addEventListener('click', () => {
  $('event-stream').replaceChildren();
  shown = 0;
  $('stream-count').textContent = '0 events';
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
    if (client.id === connection.clientId) row.classList.add('me');
    const cells = [
      client.id + (client.id === connection.clientId ? ' (this page)' : ''),
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
      if (index === 1) cell.dataset.state = client.state;
      row.append(cell);
    }
    return row;
  });
  tbody.replaceChildren(...rows);
  const t = detail?.totals || {};
  $('totals').textContent = `head ${t.head_sequence ?? '–'} · ${t.active ?? 0} active of ${t.connections ?? 0} · published ${t.published ?? 0} · as of ${new Date().toLocaleTimeString()}`;
});

// ---- latency chart ----------------------------------------------------------------------------

function renderChart() {
  let samples = connection.metrics.rttSamples.slice(-60);
  if (samples.length === 1) samples = [samples[0], samples[0]]; // a single sample still draws a line
  const line = $('latency-chart').querySelector('polyline');
  if (!samples.length) return;
  const max = Math.max(10, ...samples.map((s) => s.rtt));
  const step = samples.length > 1 ? 300 / (samples.length - 1) : 0;
  line.setAttribute('points', samples.map((s, i) => `${(i * step).toFixed(1)},${(100 - (s.rtt / max) * 95).toFixed(1)}`).join(' '));
  const last = samples[samples.length - 1].rtt;
  const all = connection.metrics.rttSamples.slice(-60);
  const avg = all.reduce((a, s) => a + s.rtt, 0) / all.length;
  const peak = Math.max(...all.map((s) => s.rtt));
  $('latency-summary').textContent = `last ${last.toFixed(1)} ms · average ${avg.toFixed(1)} ms · max ${peak.toFixed(1)} ms over ${all.length} pings`;
}
connection.addEventListener('latency', () => { renderQuality(); renderChart(); });

// ---- publish form -----------------------------------------------------------------------------

$('publish-form').addEventListener('submit', (submit) => {
  submit.preventDefault();
  let data;
  try { data = JSON.parse($('publish-data').value || 'null'); } catch { toast('Data is not valid JSON', 'error'); return; }
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

setInterval(renderQuality, 1000);
renderBadge();
connection.connect();
