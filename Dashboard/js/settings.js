// The page's own settings (docs/DASHBOARD.md), each overridable with a URL query parameter.
// Settings that must agree with the relay (stale timeout, quality spans, window) are not here:
// they come from the relay's welcome (quality.js relaySettings).

export const DEFAULTS = Object.freeze({
  url: null, // ws://<page host>/v1/ws
  baseDelay: 1000, // first reconnect delay, ms; doubles per attempt
  maxDelay: 30000, // ceiling of the reconnect delay, ms
  jitter: 0.3, // each delay is scaled by a random factor in [1 - jitter/2, 1 + jitter/2]
  maxAttempts: 10, // failed reconnect attempts before `failed`
  heartbeatInterval: 30000, // re-send the cumulative ack (keeps the relay's activity fresh)
  pingInterval: 10000, // JSON ping for latency
  activityTimeout: 0, // no inbound frame this long: `stale`; 0: the relay's stale timeout (welcome)
  connectTimeout: 10000, // no welcome this long after opening: the attempt failed
  bufferSize: 100, // local outbound publishes kept while offline
  history: 50, // events to receive on a fresh start
  statsInterval: 5000, // how often the dashboard asks for /v1/stats over the socket (0: never)
  topics: '', // comma-separated topic subscription; empty: all
  token: '', // bearer token for relays that require one (docs/SECURITY.md); sent as ?token=
  stabilityDuration: 30000, // the debug panel's stability test, ms
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
