// The page's connection states and the transitions between them: the whole state machine, as
// the relay's ConnectionState.canMove(to:) is the relay's (Sources/TetherCore/ConnectionState.swift).
// A transition the table does not list is a bug in the caller: ConnectionStateMachine refuses it
// and reports it on the console instead of showing a state that cannot happen.

export const STATES = Object.freeze(['connecting', 'connected', 'stale', 'disconnected', 'reconnecting', 'failed']);

/** state → the states that may follow it. */
export const TRANSITIONS = Object.freeze({
  connecting: ['connected', 'reconnecting', 'disconnected', 'failed'],
  connected: ['stale', 'reconnecting', 'disconnected', 'failed'],
  stale: ['connected', 'reconnecting', 'disconnected', 'failed'],
  reconnecting: ['connected', 'disconnected', 'failed'],
  disconnected: ['connecting', 'reconnecting'],
  failed: ['connecting', 'reconnecting'],
});

/** Whether `next` may follow `state`. */
export function canMove(state, next) {
  return (TRANSITIONS[state] || []).includes(next);
}

/** States in which the page has a welcomed connection. */
export function isLive(state) {
  return state === 'connected' || state === 'stale';
}

/**
 * Holds the current state (its one owner) and how long the page has been live.
 * `move(next, reason)` returns the {state, previous, reason} change, or null when `next` is the
 * current state or a transition the table refuses.
 */
export class ConnectionStateMachine {
  constructor(initial = 'disconnected') {
    this.state = initial;
    this.liveSince = null;
    this.liveMs = 0;
  }

  move(next, reason = '') {
    if (next === this.state) return null;
    if (!canMove(this.state, next)) {
      console.warn(`tether: refused state change ${this.state} → ${next} (${reason}); see connection-states.js`);
      return null;
    }
    const previous = this.state;
    const now = Date.now();
    if (isLive(previous) && !isLive(next) && this.liveSince != null) {
      this.liveMs += now - this.liveSince;
      this.liveSince = null;
    }
    if (isLive(next) && this.liveSince == null) this.liveSince = now;
    this.state = next;
    return { state: next, previous, reason };
  }

  /** Milliseconds live (connected or stale) in total, up to now. */
  liveMsUntil(now = Date.now()) {
    return this.liveMs + (this.liveSince != null ? now - this.liveSince : 0);
  }
}
