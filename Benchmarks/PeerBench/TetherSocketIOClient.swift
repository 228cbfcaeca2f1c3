import NIOCore

/// A minimal Socket.IO v5 client over Engine.IO v4's WebSocket transport alone
/// (`/socket.io/?EIO=4&transport=websocket`, docs/SOCKETIO.md), subscribers only: it waits for
/// the Engine.IO open packet `0{…}`, connects to namespace `/` with the seed's auth
/// (`40{"client_id":…,"last_sequence":N}`, plus Tether's `topics` so a run sees only its topic),
/// takes `40{…}` as joined and `connection_established` as ready, answers each Engine.IO ping `2`
/// with `3`, and hands every event of `event_replay`, `event_history` and `claude_event` to
/// `onEvent`. Socket.IO has no per-event ack: the relay counts an event as delivered once queued.
final class TetherSocketIOClient: WebSocketPeerClient, @unchecked Sendable {
    /// The head from `connection_established`, raised by every event seen: what a seed client
    /// sends back as `last_sequence` to resume.
    private(set) var lastSequence = 0

    override var path: String { "/socket.io/?EIO=4&transport=websocket" }

    override func message(_ frame: ByteBuffer) throws {
        guard let type = frame.getInteger(at: frame.readerIndex, as: UInt8.self) else { return }
        switch type {
        case UInt8(ascii: "0"):
            sendText(ByteBuffer(string: "40" + auth()))
        case UInt8(ascii: "2"):
            sendText(ByteBuffer(string: "3"))
        case UInt8(ascii: "4"):
            try packet(frame.getSlice(at: frame.readerIndex + 1, length: frame.readableBytes - 1)!)
        case UInt8(ascii: "1"):
            throw PeerError("the relay closed the Engine.IO session")
        default:
            break  // 6 (noop) and anything else carries nothing for a subscriber
        }
    }

    private func auth() -> String {
        var auth = "{\"client_id\":\"\(settings.clientID)\""
        if let last = settings.lastSequence { auth += ",\"last_sequence\":\(last)" }
        return auth + ",\"topics\":[\"\(settings.topic)\"]}"
    }

    /// One Socket.IO packet on namespace `/` (no namespace prefix, no ack ids from the relay).
    private func packet(_ packet: ByteBuffer) throws {
        guard let type = packet.getInteger(at: packet.readerIndex, as: UInt8.self) else { return }
        switch type {
        case UInt8(ascii: "0"):
            break  // joined; `connection_established` follows
        case UInt8(ascii: "2"):
            try event(packet)
        case UInt8(ascii: "4"):
            throw PeerError("namespace connect refused: \(String(buffer: packet).prefix(300))")
        case UInt8(ascii: "1"):
            throw PeerError("the relay disconnected the namespace")
        default:
            break
        }
    }

    private static let claudeEvent = Array("2[\"claude_event\",".utf8)
    private static let eventStart = Array("{\"sequence\":".utf8)
    private static let gapKey = Array("\"gap\":".utf8)
    private static let batchTail = Array("],\"count\":".utf8)

    /// `2["name",{…},…]`: the name decides, without decoding the rest.
    private func event(_ packet: ByteBuffer) throws {
        if packet.offset(of: Self.claudeEvent) == 0 {
            deliver(packet)
            return
        }
        let text = String(buffer: packet.getSlice(at: packet.readerIndex, length: min(40, packet.readableBytes))!)
        guard text.hasPrefix("2[\""), let end = text.dropFirst(3).firstIndex(of: "\"") else { return }
        switch text[text.index(text.startIndex, offsetBy: 3)..<end] {
        case "event_replay", "event_history":
            // {"events":[{"sequence":…},{"sequence":…}],"count":N,…}: one slice per event.
            var start = packet.offset(of: Self.eventStart)
            while let from = start {
                let next = packet.offset(of: Self.eventStart, from: from + 1)
                if let event = packet.getSlice(at: packet.readerIndex + from, length: (next ?? packet.readableBytes) - from) {
                    deliver(event)
                }
                start = next
            }
            // A declared loss is counted as an error, so a run with one is not reported clean.
            if let tail = packet.offset(of: Self.batchTail), packet.offset(of: Self.gapKey, from: tail) != nil {
                onError?("relay: \(String(buffer: packet).prefix(300))")
            }
        case "connection_established":
            lastSequence = Self.integer(after: Self.sequenceKey, in: packet) ?? 0
            if packet.offset(of: Self.gapKey) != nil { onError?("relay: \(String(buffer: packet).prefix(300))") }
            ready.succeed()
        case "event_gap":
            onError?("relay: \(String(buffer: packet).prefix(300))")
        default:
            break
        }
    }

    private func deliver(_ event: ByteBuffer) {
        if let seq = Self.integer(after: Self.sequenceKey, in: event), seq > lastSequence { lastSequence = seq }
        onEvent?(event)
    }

    private static let sequenceKey = Array("\"sequence\":".utf8)

    private static func integer(after key: [UInt8], in frame: ByteBuffer) -> Int? {
        guard let start = frame.offset(of: key) else { return nil }
        var value = 0
        var index = frame.readerIndex + start + key.count
        while let digit = frame.getInteger(at: index, as: UInt8.self), digit >= 0x30, digit <= 0x39 {
            value = value * 10 + Int(digit - 0x30)
            index += 1
        }
        return value
    }
}
