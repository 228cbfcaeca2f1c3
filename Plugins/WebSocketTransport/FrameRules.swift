import NIOCore
import NIOWebSocket
import TetherCore

/// RFC 6455's rules for the frames a client sends, checked one frame at a time in arrival order:
/// every frame masked (§5.1); no reserved bit without an extension that defines it and no
/// reserved opcode (§5.2); control frames unfragmented and at most 125 bytes (§5.5); a close
/// payload empty or a valid status code followed by UTF-8 (§5.5.1, §7.4); and fragments only
/// inside a started message, one message at a time (§5.4).
///
/// UTF-8 of a whole text message is checked where the message is assembled
/// (``WebSocketConnectionHandler/assemble(_:)``), since a character may straddle two fragments.
///
/// Ownership: a value owned by one connection's ``FrameRulesHandler`` on its event loop.
struct FrameRules {
    /// A frame that breaks a rule: the connection ends with `error` and its close code.
    struct Violation: Error, Sendable, CustomStringConvertible {
        let error: RelayError
        var description: String { error.message }

        /// A framing rule was broken (close 1002).
        static func framing(_ message: String) -> Violation {
            Violation(error: RelayError(.invalidFrame, message))
        }

        /// Text that is not UTF-8 (close 1007).
        static func notUTF8(_ what: String) -> Violation {
            Violation(error: RelayError(.invalidUTF8, "\(what) is not valid UTF-8 (RFC 6455 §8.1); send JSON text as UTF-8"))
        }
    }

    /// The reserved bits a negotiated extension gave a meaning to (Tether negotiates none).
    let allowedReservedBits: WebSocketFrame.ReservedBits
    /// Whether a text or binary message was started and its last fragment has not come yet.
    private var inMessage = false

    init(allowedReservedBits: WebSocketFrame.ReservedBits = []) {
        self.allowedReservedBits = allowedReservedBits
    }

    /// Checks `frame`, the next frame from the client, and advances the message state.
    mutating func check(_ frame: WebSocketFrame) -> Violation? {
        guard frame.maskKey != nil else {
            return .framing("client frames must be masked (RFC 6455 §5.1); use a WebSocket client library")
        }
        guard allowedReservedBits.contains(frame.reservedBits) else {
            let set = [(WebSocketFrame.ReservedBits.rsv1, "RSV1"), (.rsv2, "RSV2"), (.rsv3, "RSV3")].filter { frame.reservedBits.contains($0.0) }
            return .framing("\(set.map(\.1).joined(separator: ", ")) set, but no extension that uses it was negotiated (RFC 6455 §5.2)")
        }
        switch frame.opcode {
        case .text, .binary:
            guard !inMessage else {
                return .framing("a new message started before the fragmented one ended; send its continuation frames first (RFC 6455 §5.4)")
            }
            inMessage = !frame.fin
        case .continuation:
            guard inMessage else {
                return .framing("a continuation frame with no fragmented message in progress (RFC 6455 §5.4)")
            }
            inMessage = !frame.fin
        case .ping, .pong, .connectionClose:
            guard frame.fin else { return .framing("control frames must not be fragmented (RFC 6455 §5.5)") }
            guard frame.length <= 125 else {
                return .framing("a control frame of \(frame.length) bytes; the limit is 125 (RFC 6455 §5.5)")
            }
            if frame.opcode == .connectionClose { return Self.checkClose(frame.unmaskedData) }
        default:
            return .framing("opcode 0x\(String(UInt8(webSocketOpcode: frame.opcode), radix: 16, uppercase: true)) is reserved (RFC 6455 §5.2)")
        }
        return nil
    }

    /// A close payload is empty, or a status code a peer may send followed by a UTF-8 reason.
    private static func checkClose(_ payload: ByteBuffer) -> Violation? {
        var payload = payload
        guard payload.readableBytes > 0 else { return nil }
        guard let code = payload.readInteger(as: UInt16.self) else {
            return .framing("a close frame with a 1-byte payload; send none, or a 2-byte status code (RFC 6455 §5.5.1)")
        }
        guard isSendable(code) else {
            return .framing("close code \(code) may not be sent by a peer (RFC 6455 §7.4); use 1000, or 3000–4999")
        }
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
            return .notUTF8("the close frame's reason")
        }
        return nil
    }

    /// The codes RFC 6455 §7.4 lets an endpoint put in a close frame: its own 1000–1003 and
    /// 1007–1011, and the registered (3000–3999) and private (4000–4999) ranges. 1005, 1006 and
    /// 1015 only ever describe a close locally; the rest of 0–2999 is unassigned by the RFC.
    static func isSendable(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    /// Whether `bytes` are valid UTF-8, without making a string of them.
    static func isUTF8(_ bytes: [UInt8]) -> Bool {
        (try? UTF8Span(validating: bytes.span)) != nil
    }
}
