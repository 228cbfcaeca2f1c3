// The page's persistent identity and position in localStorage (keys documented in
// docs/DASHBOARD.md). The position is read from storage every time, never copied at page load,
// so a reload or a reconnect resumes right after the newest event processed.

export const KEYS = Object.freeze({
  clientId: 'tether.client_id',
  resumeToken: 'tether.resume_token',
  epoch: 'tether.epoch',
  lastSequence: 'tether.last_sequence',
  outbox: 'tether.outbox',
});

export class PositionStore {
  constructor(storage) { this.storage = storage; }

  get(key) { try { return this.storage.getItem(key); } catch { return null; } }
  set(key, value) {
    try { value == null ? this.storage.removeItem(key) : this.storage.setItem(key, String(value)); } catch { /* quota, private mode */ }
  }

  get clientId() { return this.get(KEYS.clientId); }
  get resumeToken() { return this.get(KEYS.resumeToken); }
  get epoch() { return this.get(KEYS.epoch); }
  get lastSequence() {
    const raw = this.get(KEYS.lastSequence);
    const n = raw == null ? NaN : Number(raw);
    return Number.isInteger(n) && n >= 0 ? n : null;
  }
  set lastSequence(seq) { this.set(KEYS.lastSequence, seq); }

  /** Keeps what a welcome says; returns true when the stored position had to be discarded. */
  remember(welcome) {
    const previousEpoch = this.epoch;
    this.set(KEYS.clientId, welcome.client_id);
    this.set(KEYS.resumeToken, welcome.resume_token);
    const reset = Boolean(welcome.replay?.reset || (previousEpoch && previousEpoch !== welcome.epoch));
    if (reset) this.set(KEYS.lastSequence, null);
    this.set(KEYS.epoch, welcome.epoch);
    return reset;
  }

  /** 4501: the relay refused our position. */
  forgetPosition() {
    this.set(KEYS.epoch, null);
    this.set(KEYS.lastSequence, null);
  }

  /** 4503: the relay refused our identity. */
  forgetIdentity() {
    for (const key of [KEYS.clientId, KEYS.resumeToken, KEYS.epoch, KEYS.lastSequence]) this.set(key, null);
  }
}
