import NIOCore

/// A minimal Server-Sent Events client of Tether's `GET /v1/stream` (subscribers only; SSE has
/// no way back, so the relay counts an event as acknowledged once written to the socket). Takes
/// the same fixed `client_id`/`resume_token` as the WebSocket client, so a reconnect resumes from
/// the relay's cursor; de-chunks the response and hands each `data:` event to `onEvent`.
final class TetherSSEClient: PeerClient, @unchecked Sendable {
    private var headParsed = false
    private var chunked = false
    /// Bytes still owed by the current chunk (chunked encoding), or nil between chunks.
    private var chunkRemaining: Int?
    private var body = ByteBuffer()
    private(set) var replayCount = 0
    /// `epoch:head` from the welcome: the `Last-Event-ID` of a client that has seen no event yet.
    private(set) var welcomeID: String?

    override func start() {
        var query = "topics=\(settings.topic)&client_id=\(settings.clientID)&resume_token=token-\(settings.clientID)"
        if let last = settings.lastEventID { query += "&last_event_id=\(last)" }
        write(ByteBuffer(string: "GET /v1/stream?\(query) HTTP/1.1\r\nHost: 127.0.0.1:\(settings.port)\r\nAccept: text/event-stream\r\n\r\n"))
    }

    override func parse() throws {
        if !headParsed {
            guard let end = inbound.readableBytesView.firstRange(of: [13, 10, 13, 10]) else { return }
            let head = inbound.readString(length: end.upperBound - inbound.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 200") else { throw PeerError("SSE request refused: \(head.prefix(120))") }
            chunked = head.lowercased().contains("transfer-encoding: chunked")
            headParsed = true
        }
        if chunked {
            while inbound.readableBytes > 0 {
                if let remaining = chunkRemaining {
                    let take = min(remaining, inbound.readableBytes)
                    var slice = inbound.readSlice(length: take)!
                    body.writeBuffer(&slice)
                    chunkRemaining = remaining - take == 0 ? nil : remaining - take
                    if chunkRemaining == nil { trailingCRLF = true }
                    continue
                }
                guard let end = inbound.readableBytesView.firstIndex(of: 10) else { break }
                let line = inbound.readString(length: end - inbound.readerIndex + 1) ?? ""
                let size = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trailingCRLF, size.isEmpty {
                    trailingCRLF = false
                    continue
                }
                guard let count = Int(size, radix: 16) else { throw PeerError("bad chunk size \(size)") }
                if count == 0 { throw PeerError("the relay ended the stream") }
                chunkRemaining = count
            }
        } else {
            body.writeBuffer(&inbound)
        }
        events()
    }

    private var trailingCRLF = false
    private static let blankLine: [UInt8] = [10, 10]
    private static let idField = Array("id: ".utf8)
    private static let relayEvent = Array("event: tether.".utf8)

    /// Each SSE event ends with a blank line.
    private func events() {
        while let end = body.offset(of: Self.blankLine) {
            let block = body.readSlice(length: end + 2)!
            if block.getInteger(at: block.readerIndex, as: UInt8.self) == UInt8(ascii: ":") { continue }  // heartbeat
            // An event of the stream starts with `id:`; the relay's own events have no id.
            if block.offset(of: Self.idField) == 0 {
                onEvent?(block)
                continue
            }
            if let start = block.offset(of: Self.relayEvent) {
                let string = String(buffer: block)
                let name = String(string.utf8.dropFirst(start + Self.relayEvent.count).prefix { $0 != 10 })!
                if name == "welcome" {
                    if let count = string.range(of: "\"count\":") {
                        replayCount = Int(string[count.upperBound...].prefix { $0.isNumber }) ?? 0
                    }
                    if let epoch = string.range(of: "\"epoch\":\""), let head = string.range(of: "\"head\":") {
                        welcomeID = "\(string[epoch.upperBound...].prefix { $0 != "\"" }):\(string[head.upperBound...].prefix { $0.isNumber })"
                    }
                    ready.succeed()
                } else {
                    onError?("relay: \(String(buffer: block).prefix(300))")
                }
            }
        }
        if body.readableBytes == 0 { body.clear() } else if body.readerIndex > 65_536 { body.discardReadBytes() }
    }
}
