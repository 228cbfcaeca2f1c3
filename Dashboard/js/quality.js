// The connection quality score, the same formula the relay uses (docs/METRICS.md):
// a weighted sum of five factors, each in [0, 1].

export const WEIGHTS = { reconnects: 0.25, ackRate: 0.25, uptime: 0.2, activity: 0.15, latency: 0.15 };

const clamp = (x) => Math.min(1, Math.max(0, x));

/**
 * @param {object} m
 * @param {number} m.recentReconnects reconnects in the last 15 minutes
 * @param {number} m.delivered events received
 * @param {number} m.acked events acknowledged
 * @param {number} m.overdue events received but unacknowledged for longer than 30 s
 * @param {number} m.connectedMs milliseconds connected
 * @param {number} m.sinceFirstSeenMs milliseconds since the first connection attempt
 * @param {number} m.silenceMs milliseconds since the last inbound frame
 * @param {number|null} m.rttMs the last ping round trip, null before the first
 * @returns {{score: number, factors: object}}
 */
export function qualityScore(m) {
  const factors = {
    reconnects: 1 / (1 + m.recentReconnects / 3),
    ackRate: m.delivered > 0 ? clamp((Math.min(m.acked, m.delivered) - m.overdue) / m.delivered) : 1,
    uptime: m.sinceFirstSeenMs > 0 ? clamp(m.connectedMs / m.sinceFirstSeenMs) : 1,
    activity: m.silenceMs <= 30000 ? 1 : clamp(1 - (m.silenceMs - 30000) / 60000),
    latency: m.rttMs == null ? 1 : clamp(1 - (m.rttMs / 1000 - 0.1) / 1.9),
  };
  let score = 0;
  for (const [name, weight] of Object.entries(WEIGHTS)) score += weight * factors[name];
  return { score: clamp(score), factors };
}

/** "good" (≥ 0.8), "fair" (≥ 0.5) or "poor": the quality bar's colour class. */
export function qualityClass(score) {
  return score >= 0.8 ? 'good' : score >= 0.5 ? 'fair' : 'poor';
}

/** Latency colour class: ≤ 100 ms good, ≤ 500 ms fair, slower poor. */
export function latencyClass(ms) {
  if (ms == null) return 'unknown';
  return ms <= 100 ? 'good' : ms <= 500 ? 'fair' : 'poor';
}
