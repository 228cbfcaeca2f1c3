// Publishes on their way to the relay. The Outbox owns two lists: `queued` (made while offline
// or lost with a connection; persisted in localStorage, at most `limit`, oldest dropped first)
// and `inflight` (sent on the current connection, waiting for their `published` answer).
// Every publish carries a producer id, so sending one again after a lost connection does not
// create a second event.

import { KEYS } from './position-store.js';

export class Outbox {
  constructor(positionStore, limit, onDrop = () => {}) {
    this.store = positionStore;
    this.limit = limit;
    this.onDrop = onDrop;
    this.queued = this.#load();
    this.inflight = [];
  }

  #load() {
    try { return JSON.parse(this.store.get(KEYS.outbox) || '[]').filter((p) => p && p.topic); } catch { return []; }
  }

  #save() { this.store.set(KEYS.outbox, this.queued.length ? JSON.stringify(this.queued) : null); }

  #trim() {
    while (this.queued.length > this.limit) this.onDrop(this.queued.shift());
  }

  /** Keeps a publish that could not be sent now. */
  queue(entry) {
    this.queued.push(entry);
    this.#trim();
    this.#save();
  }

  sent(entry) { this.inflight.push(entry); }

  /** The relay answered (accepted or refused): the publish leaves both lists. */
  settle(id) {
    const index = this.inflight.findIndex((p) => p.id === id);
    if (index >= 0) { this.inflight.splice(index, 1); return; }
    const queued = this.queued.findIndex((p) => p.id === id);
    if (queued >= 0) { this.queued.splice(queued, 1); this.#save(); }
  }

  /** The connection was lost: unanswered publishes go back to the front, in order. */
  requeueInflight() {
    if (!this.inflight.length) return;
    this.queued = this.inflight.concat(this.queued);
    this.inflight = [];
    this.#trim();
    this.#save();
  }

  /** After a welcome: hands every queued publish to `send` (which returns false if it could not). */
  flush(send) {
    const pending = this.queued;
    this.queued = [];
    for (const entry of pending) {
      if (send(entry)) this.inflight.push(entry); else this.queued.push(entry);
    }
    this.#save();
    return pending.length;
  }

  clear() {
    const count = this.queued.length;
    this.queued = [];
    this.#save();
    return count;
  }
}
