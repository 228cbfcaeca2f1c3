/// What a client does after the relay (or the network) closed its WebSocket with a given code:
/// the one reconnect rule that the relay's documentation, `TetherClient`, the benchmark clients
/// and the dashboard (`Dashboard/js/close-codes.js`, checked against ``CloseCodeTable/rules`` by
/// `CloseCodeTableTests`) all follow.
///
/// The rule, like Centrifugo's and like what a WebSocket client author expects: a close the
/// client could not have caused or fixed (the relay restarting, the network, an overloaded or
/// briefly unavailable relay) means *reconnect with backoff*; a refusal of what the client sent
/// means *do not reconnect as you were* (fix the request, or stop).
public struct CloseCodeRule: Sendable, Hashable, Codable {
    /// What the client does next.
    public struct Action: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Reconnect with backoff, as it was (identity and position kept).
        public static let reconnect = Action(rawValue: "reconnect")
        /// Reconnect at once without `last_sequence` and `epoch` (the position was refused).
        public static let reconnectWithoutPosition = Action(rawValue: "reconnect_without_position")
        /// Reconnect as a new client: forget `client_id` and `resume_token` (the identity was refused).
        public static let reconnectAsNewClient = Action(rawValue: "reconnect_as_new_client")
        /// Stop without failing: another connection of this client took over.
        public static let stop = Action(rawValue: "stop")
        /// Stop and report failure: the same request would be refused again.
        public static let fail = Action(rawValue: "fail")

        public var description: String { rawValue }
        /// Whether the client dials again by itself after this close.
        public var reconnects: Bool { self != .stop && self != .fail }
    }

    /// The first and last code this row covers (one code: both the same).
    public let from: Int
    public let to: Int
    /// A short stable name (`going_away`, `resume_refused`).
    public let name: String
    public let action: Action
    /// What happened and what happens next, for a person (the dashboard's toast, the client's
    /// last error).
    public let text: String

    public init(_ from: Int, _ to: Int? = nil, _ name: String, _ action: Action, _ text: String) {
        self.from = from
        self.to = to ?? from
        self.name = name
        self.action = action
        self.text = text
    }

    public func covers(_ code: Int) -> Bool { (from...to).contains(code) }
}

/// The close codes a Tether client can meet, in one table (``rules``): the first row that covers
/// a code decides, so single codes come before the range they sit in. A code no row covers is
/// treated as ``fallback`` (reconnect with backoff): a close the client does not understand is
/// not a reason to give up.
///
/// To add a code: add one row here, the same row to `Dashboard/js/close-codes.js` (the test
/// `CloseCodeTableTests` fails until both agree) and a line to docs/PROTOCOL.md.
public enum CloseCodeTable {
    public static let rules: [CloseCodeRule] = [
        .init(1000, nil, "normal_closure", .reconnect, "The relay closed the connection (it is restarting or shutting down); reconnecting."),
        .init(1001, nil, "going_away", .reconnect, "The relay is going away (restart or shutdown); reconnecting."),
        .init(1002, nil, "protocol_error", .fail, "The relay refused a malformed WebSocket frame; this client needs fixing, not retrying."),
        .init(1003, nil, "unsupported_data", .fail, "The relay accepts JSON text frames only; this client needs fixing."),
        .init(1005, nil, "no_status", .reconnect, "The connection closed without a reason; reconnecting."),
        .init(1006, nil, "connection_lost", .reconnect, "The connection was lost (network or relay down); reconnecting."),
        .init(1007, nil, "invalid_payload", .fail, "The relay refused text that is not UTF-8; this client needs fixing."),
        .init(1008, nil, "policy_violation", .fail, "The relay refused the connection by policy; check the client's settings."),
        .init(1009, nil, "message_too_big", .fail, "A message was over the relay's size limit (transport.websocket.max-frame-bytes); send smaller messages."),
        .init(1011, nil, "internal_error", .reconnect, "The relay hit an internal error; reconnecting."),
        .init(1012, nil, "service_restart", .reconnect, "The relay is restarting; reconnecting."),
        .init(1013, nil, "try_again_later", .reconnect, "The relay is at its connection limit; reconnecting later."),
        .init(1014, nil, "bad_gateway", .reconnect, "A proxy in front of the relay could not reach it; reconnecting."),
        .init(1015, nil, "tls_handshake", .fail, "The TLS handshake failed; check the relay's certificate and the URL."),
        .init(3000, nil, "unauthorized", .fail, "A proxy in front of the relay refused the credentials; check the token."),
        .init(3003, nil, "forbidden", .fail, "A proxy in front of the relay forbade the connection; check the token's scope."),
        .init(4000, nil, "no_welcome", .reconnect, "The relay did not answer the hello in time; reconnecting."),
        .init(4001, nil, "hello_timeout", .reconnect, "The relay got no hello in time (transport.websocket.hello-timeout); reconnecting."),
        .init(4002, nil, "store_unavailable", .reconnect, "The relay's store is unavailable; reconnecting later."),
        .init(4003, nil, "identity_unavailable", .reconnect, "The relay cannot reach its shared store to check this client id; reconnecting later."),
        .init(4000, 4499, "retry", .reconnect, "The relay closed the connection for a passing reason; reconnecting."),
        .init(4500, nil, "protocol_violation", .fail, "The relay refused a frame this client sent (docs/PROTOCOL.md); this client needs fixing."),
        .init(4501, nil, "future_sequence", .reconnectWithoutPosition, "The relay's log is behind this client's position (a new log?); starting over from the relay's log."),
        .init(4503, nil, "resume_refused", .reconnectAsNewClient, "The relay refused this client id (resume token does not match); reconnecting as a new client."),
        .init(4504, nil, "superseded", .stop, "This client connected again elsewhere (another tab?); this connection stopped."),
        .init(4510, nil, "unauthorized", .fail, "The relay requires a subscriber token; open the page with ?token=…"),
        .init(4511, nil, "forbidden", .fail, "The token is not a subscriber token; use a token with the subscribe scope."),
        .init(4500, 4999, "refused", .fail, "The relay refused the request; the same request would be refused again."),
    ]

    /// A code no row covers: reconnect with backoff.
    public static let fallback = CloseCodeRule(0, 0, "unknown", .reconnect, "The connection closed; reconnecting.")

    /// The rule for `code`: the first row that covers it, else ``fallback``.
    public static func rule(for code: Int) -> CloseCodeRule {
        rules.first { $0.covers(code) } ?? fallback
    }
}
