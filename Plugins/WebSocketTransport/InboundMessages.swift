import NIOCore
import NIOWebSocket

/// One whole inbound message, as ``WebSocketConnectionHandler`` handles it.
enum InboundMessage {
    case text([UInt8])
    case binary
    case tooLarge(bytes: Int)
    case notUTF8
}

/// A message whose fragments are still arriving. Nothing beyond `maxBytes` is kept: an oversized
/// message is only counted until its last fragment, then refused.
struct PartialMessage {
    var isText: Bool
    var size: Int
    var bytes: [UInt8]
}

extension WebSocketConnectionHandler {
    /// Reassembles data frames into whole messages, refusing any message over `maxBytes` as soon
    /// as its fragments pass the limit, and any text message that is not UTF-8 as a whole.
    /// Returns the message its last fragment completes, else `nil`.
    ///
    /// The frames arrive well formed: ``FrameRulesHandler`` has already ended the connection at
    /// the first stray continuation or message started inside another, so a message here is one
    /// text or binary frame and its continuations.
    func assemble(_ frame: WebSocketFrame) -> InboundMessage? {
        let data = frame.unmaskedData
        var partial = message ?? PartialMessage(isText: frame.opcode == .text, size: 0, bytes: [])
        partial.size += data.readableBytes
        if partial.isText, partial.size <= configuration.maxFrameBytes {
            partial.bytes.append(contentsOf: data.readableBytesView)
        }
        guard frame.fin else {
            message = partial
            return nil
        }
        message = nil
        if !partial.isText { return .binary }
        if partial.size > configuration.maxFrameBytes { return .tooLarge(bytes: partial.size) }
        guard FrameRules.isUTF8(partial.bytes) else { return .notUTF8 }
        return .text(partial.bytes)
    }
}
