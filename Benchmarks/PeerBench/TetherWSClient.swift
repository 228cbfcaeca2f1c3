import NIOCore

/// A minimal client of Tether's WebSocket protocol (docs/PROTOCOL.md) on raw NIO, as light as
/// the MQTT and NATS clients beside it (framing in ``WebSocketPeerClient``): `hello` with a
/// fixed `client_id` and `resume_token` and `batch` (so events arrive as `event` or `events`
/// frames), each event → cumulative `ack` (one per socket read, or one
/// per event with `ackEach`), `publish` → `published`, and answers to relay pings. It does not use
/// TetherClient, whose reconnect, quality and persistence machinery would be measured too.
final class TetherWSClient: WebSocketPeerClient, @unchecked Sendable {
    private var highestSeq = 0
    private var ackedSeq = 0
    /// `replay.count` from the welcome: how many replayed events follow it.
    private(set) var replayCount = 0

    override var path: String { "/v1/ws" }

    override func upgraded() { sendHello() }

    override func publish(_ payload: ByteBuffer) {
        var frame = ByteBuffer()
        frame.reserveCapacity(payload.readableBytes + settings.topic.utf8.count + 48)
        frame.writeString("{\"type\":\"publish\",\"topic\":\"\(settings.topic)\",\"data\":")
        var payload = payload
        frame.writeBuffer(&payload)
        frame.writeString("}")
        sendText(frame)
    }

    override func readBatchEnded() {
        if highestSeq > ackedSeq { sendAck() }
    }

    private func sendAck() {
        ackedSeq = highestSeq
        sendText(ByteBuffer(string: "{\"type\":\"ack\",\"seq\":\(highestSeq)}"))
    }

    private func sendHello() {
        var hello = "{\"type\":\"hello\",\"client_id\":\"\(settings.clientID)\",\"resume_token\":\"token-\(settings.clientID)\""
        let topic = settings.subscribe ? settings.topic : "\(settings.clientID)-publishes-only"
        hello += ",\"topics\":[\"\(topic)\"]"
        if let last = settings.lastSequence { hello += ",\"last_sequence\":\(last)" }
        // Several events per frame, as TetherClient and the dashboard ask (docs/PROTOCOL.md),
        // unless the run measures the client that does not ask.
        if settings.batch { hello += ",\"batch\":true" }
        sendText(ByteBuffer(string: hello + "}"))
    }

    override func message(_ frame: ByteBuffer) throws {
        // Every relay frame starts `{"type":"…"`; the type decides, without decoding the rest.
        guard frame.readableBytes > 9,
              let type = frame.getString(at: frame.readerIndex + 9, length: min(12, frame.readableBytes - 9)) else { return }
        if type.hasPrefix("event\"") {
            eventFrames += 1
            deliver(frame)
        } else if type.hasPrefix("events\"") {
            eventFrames += 1
            // {"type":"events","events":[{"seq":…},{"seq":…}]} (the hello asked for batches): one
            // slice per event, split where each event object starts.
            var start = frame.offset(of: Self.eventStart)
            while let from = start {
                let next = frame.offset(of: Self.eventStart, from: from + 1)
                if let event = frame.getSlice(at: frame.readerIndex + from, length: (next ?? frame.readableBytes) - from) {
                    deliver(event)
                }
                start = next
            }
        } else if type.hasPrefix("published\"") {
            onConfirm?()
        } else if type.hasPrefix("welcome\"") {
            if let range = String(buffer: frame).range(of: "\"count\":") {
                let text = String(buffer: frame)[range.upperBound...]
                replayCount = Int(text.prefix { $0.isNumber }) ?? 0
            }
            ready.succeed()
        } else if type.hasPrefix("ping\"") {
            var pong = String(buffer: frame)
            pong = pong.replacingOccurrences(of: "\"type\":\"ping\"", with: "\"type\":\"pong\"")
            sendText(ByteBuffer(string: pong))
        } else if type.hasPrefix("error\"") || type.hasPrefix("gap\"") {
            // A gap is a declared loss: counted as an error, so a run with one is not reported clean.
            onError?("relay: \(String(buffer: frame).prefix(300))")
        }
    }

    private func deliver(_ event: ByteBuffer) {
        let seq = Self.integer(after: "\"seq\":", in: event) ?? 0
        onEvent?(event)
        if seq > highestSeq { highestSeq = seq }
        if settings.ackEach { sendAck() }
    }

    private static let eventStart = Array("{\"seq\":".utf8)
    private static let seqKey = Array("\"seq\":".utf8)

    private static func integer(after key: String, in frame: ByteBuffer) -> Int? {
        guard let start = frame.offset(of: seqKey) else { return nil }
        var value = 0
        var index = frame.readerIndex + start + seqKey.count
        while let digit = frame.getInteger(at: index, as: UInt8.self), digit >= 0x30, digit <= 0x39 {
            value = value * 10 + Int(digit - 0x30)
            index += 1
        }
        return value
    }
}
