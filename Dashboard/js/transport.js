// One WebSocket at a time to the relay's /v1/ws. The Transport owns the socket: it opens it,
// sends the hello the caller builds, gives up on an attempt with no welcome within
// `connectTimeout` (closing it with 4000, which the close-code table treats as "reconnect"),
// hands every parsed frame to `onFrame` and reports the close exactly once to `onClose`.
// A socket that was replaced or closed on purpose reports nothing.

export class Transport {
  constructor(url, { connectTimeout, onOpen, onFrame, onClose, onSent }) {
    this.url = url;
    this.connectTimeout = connectTimeout;
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onClose = onClose;
    this.onSent = onSent;
    this.ws = null;
    this.welcomed = false;
  }

  get open() { return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN); }

  connect() {
    this.close(1000, 'replaced');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.welcomed = false;
    const timer = setTimeout(() => { if (!this.welcomed && this.ws === ws) ws.close(4000, 'no welcome'); }, this.connectTimeout);
    ws.onopen = () => { if (this.ws === ws) this.onOpen(); };
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame?.type === 'welcome') { this.welcomed = true; clearTimeout(timer); }
      this.onFrame(frame);
    };
    ws.onclose = (close) => {
      clearTimeout(timer);
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClose({ code: close.code, reason: close.reason }, this.welcomed);
    };
  }

  send(frame) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(frame));
    this.onSent(frame);
    return true;
  }

  /** Closes the socket without reporting it (replaced, or closed by the page on purpose). */
  close(code = 1000, reason = '') {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try { ws.close(code, reason); } catch { /* already closed */ }
  }

  /** Drops the socket as a network failure would, and reports it as close 1006. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    const welcomed = this.welcomed;
    this.close(4000, 'simulated');
    this.onClose({ code: 1006, reason: 'simulated disconnect' }, welcomed);
  }
}
