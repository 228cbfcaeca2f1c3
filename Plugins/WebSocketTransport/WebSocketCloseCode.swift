public import TetherCore

/// A WebSocket close code the relay sends, and whether a client should reconnect after it.
///
/// What a client does after each code is ``CloseCodeTable`` (TetherCore), the one table the
/// relay, `TetherClient`, the benchmark clients and the dashboard follow (`docs/PROTOCOL.md`).
public struct WebSocketCloseCode: Sendable, Hashable, CustomStringConvertible {
    public let code: UInt16

    public init(_ code: UInt16) { self.code = code }

    /// The relay is shutting down or restarting.
    public static let goingAway = WebSocketCloseCode(1001)
    /// A frame that breaks RFC 6455's framing rules (unmasked, reserved bits or opcode, a stray
    /// or interleaved continuation, a bad control frame).
    public static let invalidFrame = WebSocketCloseCode(1002)
    /// A binary frame: the protocol is JSON text only.
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// A text message, or a close reason, that is not UTF-8.
    public static let invalidPayload = WebSocketCloseCode(1007)
    /// An inbound message over `transport.websocket.max-frame-bytes`.
    public static let tooLarge = WebSocketCloseCode(1009)
    /// The relay failed in a way the client did not cause.
    public static let internalError = WebSocketCloseCode(1011)
    /// No hello within `transport.websocket.hello-timeout`.
    public static let helloTimeout = WebSocketCloseCode(4001)
    /// The buffer store could not be read for the replay.
    public static let storeUnavailable = WebSocketCloseCode(4002)
    /// The hello named a client id this relay cannot check now (the shared store that holds
    /// client records is unreachable): reconnect with backoff.
    public static let identityUnavailable = WebSocketCloseCode(4003)
    /// Not JSON, first frame not hello, a second hello, a hello with wrong field types.
    public static let protocolError = WebSocketCloseCode(4500)
    /// The hello's `last_sequence` is ahead of this epoch's head.
    public static let futureSequence = WebSocketCloseCode(4501)
    /// The hello named a known `client_id` without its `resume_token`.
    public static let resumeRefused = WebSocketCloseCode(4503)
    /// The same client id connected again elsewhere; this connection is the old one.
    public static let superseded = WebSocketCloseCode(4504)

    /// The row of ``CloseCodeTable`` for this code: what a client does next, and why.
    public var rule: CloseCodeRule { CloseCodeTable.rule(for: Int(code)) }

    /// Whether a client dials again by itself after this code (``CloseCodeTable``).
    public var reconnect: Bool { rule.action.reconnects }

    /// The close code for an error that ends a connection.
    public static func closing(_ code: RelayError.Code) -> WebSocketCloseCode {
        switch code {
        case .futureSequence: .futureSequence
        case .resumeRefused: .resumeRefused
        case .superseded: .superseded
        case .storeUnavailable: .storeUnavailable
        case .identityUnavailable: .identityUnavailable
        case .tooLarge: .tooLarge
        case .unsupportedData: .unsupportedData
        case .invalidFrame: .invalidFrame
        case .invalidUTF8: .invalidPayload
        case .helloTimeout: .helloTimeout
        case .shuttingDown: .goingAway
        case .malformed, .helloRequired, .duplicateHello, .invalidHello, .invalidName: .protocolError
        default: .internalError
        }
    }

    public var description: String { "\(code)" }
}

extension RelayError.Code {
    /// The first frame on a connection was not a hello.
    public static let helloRequired = RelayError.Code(rawValue: "hello_required")
    /// A hello on a connection that already had one.
    public static let duplicateHello = RelayError.Code(rawValue: "duplicate_hello")
    /// A hello whose fields have the wrong types or values.
    public static let invalidHello = RelayError.Code(rawValue: "invalid_hello")
    /// A frame `type` this relay does not know (the connection stays open).
    public static let unknownType = RelayError.Code(rawValue: "unknown_type")
    /// A binary frame.
    public static let unsupportedData = RelayError.Code(rawValue: "unsupported_data")
    /// A frame that breaks RFC 6455's framing rules (close 1002).
    public static let invalidFrame = RelayError.Code(rawValue: "invalid_frame")
    /// A text message or close reason that is not UTF-8 (close 1007).
    public static let invalidUTF8 = RelayError.Code(rawValue: "invalid_utf8")
    /// No hello in time.
    public static let helloTimeout = RelayError.Code(rawValue: "hello_timeout")
}
