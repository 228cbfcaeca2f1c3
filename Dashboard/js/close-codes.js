// The close-code table: what the page does after the relay (or the network) closed its socket,
// and what it tells the person. A copy of TetherCore's CloseCodeTable
// (Sources/TetherCore/CloseCodeTable.swift), the one rule the relay, TetherClient, the benchmark
// clients and this page follow; the test CloseCodeTableTests fails when the two differ, so add a
// row there and here together. The first row that covers a code decides; a code no row covers
// means `reconnect` (FALLBACK).

// close-code-table:begin
export const CLOSE_CODES = Object.freeze([
  {"from": 1000, "to": 1000, "name": "normal_closure", "action": "reconnect", "text": "The relay closed the connection (it is restarting or shutting down); reconnecting."},
  {"from": 1001, "to": 1001, "name": "going_away", "action": "reconnect", "text": "The relay is going away (restart or shutdown); reconnecting."},
  {"from": 1002, "to": 1002, "name": "protocol_error", "action": "fail", "text": "The relay refused a malformed WebSocket frame; this client needs fixing, not retrying."},
  {"from": 1003, "to": 1003, "name": "unsupported_data", "action": "fail", "text": "The relay accepts JSON text frames only; this client needs fixing."},
  {"from": 1005, "to": 1005, "name": "no_status", "action": "reconnect", "text": "The connection closed without a reason; reconnecting."},
  {"from": 1006, "to": 1006, "name": "connection_lost", "action": "reconnect", "text": "The connection was lost (network or relay down); reconnecting."},
  {"from": 1007, "to": 1007, "name": "invalid_payload", "action": "fail", "text": "The relay refused text that is not UTF-8; this client needs fixing."},
  {"from": 1008, "to": 1008, "name": "policy_violation", "action": "fail", "text": "The relay refused the connection by policy; check the client's settings."},
  {"from": 1009, "to": 1009, "name": "message_too_big", "action": "fail", "text": "A message was over the relay's size limit (transport.websocket.max-frame-bytes); send smaller messages."},
  {"from": 1011, "to": 1011, "name": "internal_error", "action": "reconnect", "text": "The relay hit an internal error; reconnecting."},
  {"from": 1012, "to": 1012, "name": "service_restart", "action": "reconnect", "text": "The relay is restarting; reconnecting."},
  {"from": 1013, "to": 1013, "name": "try_again_later", "action": "reconnect", "text": "The relay is at its connection limit; reconnecting later."},
  {"from": 1014, "to": 1014, "name": "bad_gateway", "action": "reconnect", "text": "A proxy in front of the relay could not reach it; reconnecting."},
  {"from": 1015, "to": 1015, "name": "tls_handshake", "action": "fail", "text": "The TLS handshake failed; check the relay's certificate and the URL."},
  {"from": 3000, "to": 3000, "name": "unauthorized", "action": "fail", "text": "A proxy in front of the relay refused the credentials; check the token."},
  {"from": 3003, "to": 3003, "name": "forbidden", "action": "fail", "text": "A proxy in front of the relay forbade the connection; check the token's scope."},
  {"from": 4000, "to": 4000, "name": "no_welcome", "action": "reconnect", "text": "The relay did not answer the hello in time; reconnecting."},
  {"from": 4001, "to": 4001, "name": "hello_timeout", "action": "reconnect", "text": "The relay got no hello in time (transport.websocket.hello-timeout); reconnecting."},
  {"from": 4002, "to": 4002, "name": "store_unavailable", "action": "reconnect", "text": "The relay's store is unavailable; reconnecting later."},
  {"from": 4003, "to": 4003, "name": "identity_unavailable", "action": "reconnect", "text": "The relay cannot reach its shared store to check this client id; reconnecting later."},
  {"from": 4000, "to": 4499, "name": "retry", "action": "reconnect", "text": "The relay closed the connection for a passing reason; reconnecting."},
  {"from": 4500, "to": 4500, "name": "protocol_violation", "action": "fail", "text": "The relay refused a frame this client sent (docs/PROTOCOL.md); this client needs fixing."},
  {"from": 4501, "to": 4501, "name": "future_sequence", "action": "reconnect_without_position", "text": "The relay's log is behind this client's position (a new log?); starting over from the relay's log."},
  {"from": 4503, "to": 4503, "name": "resume_refused", "action": "reconnect_as_new_client", "text": "The relay refused this client id (resume token does not match); reconnecting as a new client."},
  {"from": 4504, "to": 4504, "name": "superseded", "action": "stop", "text": "This client connected again elsewhere (another tab?); this connection stopped."},
  {"from": 4510, "to": 4510, "name": "unauthorized", "action": "fail", "text": "The relay requires a subscriber token; open the page with ?token=…"},
  {"from": 4511, "to": 4511, "name": "forbidden", "action": "fail", "text": "The token is not a subscriber token; use a token with the subscribe scope."},
  {"from": 4500, "to": 4999, "name": "refused", "action": "fail", "text": "The relay refused the request; the same request would be refused again."}
]);
// close-code-table:end

export const FALLBACK = Object.freeze({ from: 0, to: 0, name: 'unknown', action: 'reconnect', text: 'The connection closed; reconnecting.' });

/** Actions after which the page dials again by itself. */
const RECONNECTING = new Set(['reconnect', 'reconnect_without_position', 'reconnect_as_new_client']);

/** The row for `code`: the first that covers it, else FALLBACK. */
export function closeRule(code) {
  return CLOSE_CODES.find((rule) => code >= rule.from && code <= rule.to) ?? FALLBACK;
}

/** Whether the page reconnects by itself after `code`. */
export function reconnectsAfter(code) {
  return RECONNECTING.has(closeRule(code).action);
}
