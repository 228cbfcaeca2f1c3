// The connection quality score, the relay's formula (docs/METRICS.md, Sources/TetherCore/
// QualityScore.swift): a weighted sum of five factors, each in [0, 1]. The spans that must agree
// with the relay (stale timeout, ack timeout, reconnect window) come from its welcome
// (docs/PROTOCOL.md); the defaults below are the relay's defaults, used only before a welcome.

export const WEIGHTS = { reconnects: 0.25, ackRate: 0.25, uptime: 0.2, activity: 0.15, latency: 0.15 };

/** The relay's defaults, until its welcome says otherwise. */
export const RELAY_DEFAULTS = Object.freeze({ staleTimeoutMs: 90000, ackTimeoutMs: 30000, reconnectWindowMs: 900000 });

/** Traffic within this long counts as fully active (the formula's constant, not a setting). */
export const ACTIVE_MS = 30000;

const clamp = (x) => (Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x)));

/** The relay settings a welcome carries, with the defaults for any it lacks. */
export function relaySettings(welcome) {
  const pick = (value, fallback) => (Number.isFinite(value) && value > 0 ? value : fallback);
  return {
    staleTimeoutMs: pick(welcome?.stale_timeout_ms, RELAY_DEFAULTS.staleTimeoutMs),
    ackTimeoutMs: pick(welcome?.ack_timeout_ms, RELAY_DEFAULTS.ackTimeoutMs),
    reconnectWindowMs: pick(welcome?.reconnect_window_ms, RELAY_DEFAULTS.reconnectWindowMs),
  };
}

/**
 * @param {object} m
 * @param {number} m.recentReconnects reconnects within the relay's reconnect window
 * @param {number} m.delivered events received
 * @param {number} m.acked events acknowledged
 * @param {number} m.overdue events received but unacknowledged for longer than the ack timeout
 * @param {number} m.connectedMs milliseconds connected
 * @param {number} m.sinceFirstSeenMs milliseconds since the first connection attempt
 * @param {number} m.silenceMs milliseconds since the last inbound frame
 * @param {number} m.staleTimeoutMs the relay's stale timeout (activity is 0 from there on)
 * @param {number|null} m.rttMs the last ping round trip, null before the first
 * @returns {{score: number, factors: object}}
 */
export function qualityScore(m) {
  const span = Math.max((m.staleTimeoutMs ?? RELAY_DEFAULTS.staleTimeoutMs) - ACTIVE_MS, 1000);
  const factors = {
    reconnects: 1 / (1 + m.recentReconnects / 3),
    ackRate: m.delivered > 0 ? clamp((Math.min(m.acked, m.delivered) - m.overdue) / m.delivered) : 1,
    uptime: m.sinceFirstSeenMs > 0 ? clamp(m.connectedMs / m.sinceFirstSeenMs) : 1,
    activity: m.silenceMs <= ACTIVE_MS ? 1 : clamp(1 - (m.silenceMs - ACTIVE_MS) / span),
    latency: m.rttMs == null ? 1 : clamp(1 - (m.rttMs / 1000 - 0.1) / 1.9),
  };
  let score = 0;
  for (const [name, weight] of Object.entries(WEIGHTS)) score += weight * factors[name];
  return { score: clamp(score), factors };
}

/**
 * The quality bar's level: "offline" whenever the page has no live connection (a score says
 * how a connection is doing; with none, no colour may suggest it is fine), else "good" (≥ 0.8),
 * "fair" (≥ 0.5) or "poor".
 */
export function qualityClass(score, live = true) {
  if (!live) return 'offline';
  return score >= 0.8 ? 'good' : score >= 0.5 ? 'fair' : 'poor';
}

/** Latency colour class: ≤ 100 ms good, ≤ 500 ms fair, slower poor. */
export function latencyClass(ms) {
  if (ms == null) return 'unknown';
  return ms <= 100 ? 'good' : ms <= 500 ? 'fair' : 'poor';
}
