import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// Reassembles inbound data frames into whole messages, refusing any message over `maxBytes`
/// as soon as its fragments pass the limit (nothing beyond the limit is kept), and any text
/// message that is not UTF-8 as a whole.
///
/// The frames arrive well formed: ``FrameRulesHandler`` has already ended the connection at the
/// first stray continuation or message started inside another, so a message here is one text or
/// binary frame and its continuations.
///
/// Written here rather than using WSCore's `messages(maxSize:)` so that an oversized or binary
/// message is reported to the connection (for an error frame and a counter) instead of ending
/// the stream with a bare close code.
struct InboundMessages {
    enum Message {
        case text([UInt8])
        case binary
        case tooLarge(bytes: Int)
        case notUTF8
    }

    private var frames: WebSocketInboundStream.AsyncIterator
    let maxBytes: Int

    init(_ stream: WebSocketInboundStream, maxBytes: Int) {
        self.frames = stream.makeAsyncIterator()
        self.maxBytes = maxBytes
    }

    /// The next whole message, or `nil` when the peer closed (or the connection ended).
    mutating func next() async throws -> Message? {
        guard let first = try await frames.next() else { return nil }
        let isText = first.opcode == .text
        var size = first.data.readableBytes
        var bytes: [UInt8] = []
        if isText, size <= maxBytes { bytes = Array(first.data.readableBytesView) }
        var fin = first.fin
        while !fin {
            guard let frame = try await frames.next() else { return nil }
            size += frame.data.readableBytes
            if isText, size <= maxBytes { bytes.append(contentsOf: frame.data.readableBytesView) }
            fin = frame.fin
        }
        if !isText { return .binary }
        if size > maxBytes { return .tooLarge(bytes: size) }
        guard FrameRules.isUTF8(bytes) else { return .notUTF8 }
        return .text(bytes)
    }
}
