import NIOCore

/// A minimal client of Tether's WebSocket protocol (docs/PROTOCOL.md) on raw NIO, as light as
/// the MQTT and NATS clients beside it: the HTTP upgrade, masked client frames, `hello` with a
/// fixed `client_id` and `resume_token` and `batch` (so events arrive as `event` or `events`
/// frames), each event → cumulative `ack` (one per socket read, or one
/// per event with `ackEach`), `publish` → `published`, and answers to pings. It does not use
/// TetherClient, whose reconnect, quality and persistence machinery would be measured too.
final class TetherWSClient: PeerClient, @unchecked Sendable {
    private var upgraded = false
    private var highestSeq = 0
    private var ackedSeq = 0
    private var fragments: ByteBuffer?
    private let mask: [UInt8] = [0x5A, 0xC3, 0x17, 0x8E]
    /// `replay.count` from the welcome: how many replayed events follow it.
    private(set) var replayCount = 0

    override func start() {
        write(ByteBuffer(string: """
            GET /v1/ws HTTP/1.1\r
            Host: 127.0.0.1:\(settings.port)\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Sec-WebSocket-Version: 13\r
            \r

            """))
    }

    override func publish(_ payload: ByteBuffer) {
        var frame = ByteBuffer()
        frame.reserveCapacity(payload.readableBytes + settings.topic.utf8.count + 48)
        frame.writeString("{\"type\":\"publish\",\"topic\":\"\(settings.topic)\",\"data\":")
        var payload = payload
        frame.writeBuffer(&payload)
        frame.writeString("}")
        sendText(frame)
    }

    override func goodbye() {
        writeFrame(opcode: 0x8, ByteBuffer(bytes: [0x03, 0xE8]))  // close 1000
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
        // Several events per frame, as TetherClient and the dashboard ask (docs/PROTOCOL.md).
        hello += ",\"batch\":true"
        sendText(ByteBuffer(string: hello + "}"))
    }

    private func sendText(_ payload: ByteBuffer) { writeFrame(opcode: 0x1, payload) }

    /// Client frames must be masked (RFC 6455 5.3).
    private func writeFrame(opcode: UInt8, _ payload: ByteBuffer) {
        var frame = ByteBuffer()
        let length = payload.readableBytes
        frame.reserveCapacity(length + 14)
        frame.writeInteger(0x80 | opcode)
        if length < 126 {
            frame.writeInteger(UInt8(0x80 | length))
        } else if length <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeBytes(mask)
        payload.withUnsafeReadableBytes { bytes in
            for (i, byte) in bytes.enumerated() { frame.writeInteger(byte ^ mask[i & 3]) }
        }
        write(frame)
    }

    override func parse() throws {
        if !upgraded {
            let view = inbound.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            let head = inbound.readString(length: end.upperBound - inbound.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else { throw PeerError("WebSocket upgrade refused: \(head.prefix(80))") }
            upgraded = true
            sendHello()
        }
        while true {
            guard let first = inbound.getInteger(at: inbound.readerIndex, as: UInt8.self),
                  let second = inbound.getInteger(at: inbound.readerIndex + 1, as: UInt8.self) else { return }
            var headerSize = 2
            var length = Int(second & 0x7F)
            if length == 126 {
                guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt16.self) else { return }
                length = Int(extended)
                headerSize = 4
            } else if length == 127 {
                guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt64.self) else { return }
                length = Int(extended)
                headerSize = 10
            }
            guard second & 0x80 == 0 else { throw PeerError("the relay sent a masked frame") }
            guard inbound.readableBytes >= headerSize + length else { return }
            inbound.moveReaderIndex(forwardBy: headerSize)
            var payload = inbound.readSlice(length: length)!
            let fin = first & 0x80 != 0
            switch first & 0x0F {
            case 0x1, 0x0:
                if !fin || fragments != nil {
                    fragments = fragments ?? ByteBuffer()
                    fragments!.writeBuffer(&payload)
                    guard fin else { continue }
                    payload = fragments!
                    fragments = nil
                }
                try message(payload)
            case 0x9:
                writeFrame(opcode: 0xA, payload)
            case 0x8:
                context?.close(promise: nil)
                return
            default:
                break
            }
        }
    }

    private func message(_ frame: ByteBuffer) throws {
        // Every relay frame starts `{"type":"…"`; the type decides, without decoding the rest.
        guard frame.readableBytes > 9,
              let type = frame.getString(at: frame.readerIndex + 9, length: min(12, frame.readableBytes - 9)) else { return }
        if type.hasPrefix("event\"") {
            deliver(frame)
        } else if type.hasPrefix("events\"") {
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
