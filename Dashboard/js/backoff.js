// Reconnect delays: baseDelay · 2^attempt, capped at maxDelay, scaled by a random factor in
// [1 − jitter/2, 1 + jitter/2]; after maxAttempts failed attempts in a row, give up.
// The Backoff owns the attempt counter and the one pending reconnect timer.

export class Backoff {
  constructor(settings, random = Math.random) {
    this.settings = settings;
    this.random = random;
    this.attempt = 0; // failed attempts since the last welcome
    this.nextDelay = null;
    this.recentDelays = [];
    this.timer = null;
  }

  /** The delay before attempt number `attempt + 1`. */
  delayFor(attempt) {
    const { baseDelay, maxDelay, jitter } = this.settings;
    const base = Math.min(maxDelay, baseDelay * 2 ** attempt);
    const factor = 1 - jitter / 2 + this.random() * jitter;
    return Math.round(Math.min(maxDelay, base * factor));
  }

  get exhausted() { return this.attempt >= this.settings.maxAttempts; }

  /** Schedules `run` after the next delay; returns the delay. */
  schedule(run) {
    this.cancel();
    const delay = this.delayFor(this.attempt);
    this.nextDelay = delay;
    this.recentDelays.push(delay);
    if (this.recentDelays.length > 20) this.recentDelays.shift();
    this.timer = setTimeout(() => { this.timer = null; run(); }, delay);
    return delay;
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  failed() { this.attempt += 1; }

  /** A welcome (or a manual retry): a fresh series of attempts. */
  reset() {
    this.cancel();
    this.attempt = 0;
    this.nextDelay = null;
  }
}
