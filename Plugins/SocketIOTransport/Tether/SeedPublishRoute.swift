import Hummingbird
import TetherCore
import TetherRouting
import struct Foundation.Date

/// `POST /api/events`: where the seed's producers posted events. Accepts what `/v1/events`
/// accepts (`{"topic", "data", "id"}`, an array of them), and also the seed's own shape: any JSON
/// object without a `topic`, which becomes an event whose topic is its `type` (or `claude_event`)
/// and whose data is the whole object, unchanged. Answers `202 {"status":"success","accepted":[seq, ...]}`.
struct SeedPublishRoute: Sendable {
    let relay: Relay
    let decoder: PublishRequestDecoder

    func register(on router: TetherRouter) {
        router.post("/api/events") { request, _ -> Response in
            try relay.gate.authorize(request.bearerToken, for: .produce)
            var body = try await request.body.collect(upTo: decoder.limits.maxBodyBytes)
            let bytes = body.readBytes(length: body.readableBytes) ?? []
            let drafts = try drafts(bytes)
            let sequences = try await relay.publish(drafts)
            var w = JSONWriter()
            w.raw("{\"status\":\"success\",\"accepted\":[")
            for (index, seq) in sequences.enumerated() {
                if index > 0 { w.raw(",") }
                w.number(seq)
            }
            w.raw("]}\n")
            return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: w.bytes)))
        }
    }

    /// The drafts in `body`, all or nothing.
    func drafts(_ body: [UInt8]) throws(RelayError) -> [EventDraft] {
        let scanner = JSONScanner(maxDepth: decoder.limits.maxDepth)
        let items: [Range<Int>]
        do {
            let value = try scanner.validateDocument(body, in: body.indices)
            if body[value.lowerBound] == UInt8(ascii: "[") {
                items = try scanner.elements(ofArray: body, in: value)
            } else {
                items = [value]
            }
        } catch {
            throw RelayError(.malformed, "the request body is not valid JSON: \(error)")
        }
        var seedShaped = false
        for item in items where body[item.lowerBound] == UInt8(ascii: "{") {
            if try !members(body, item, scanner).contains(where: { $0.key == "topic" }) { seedShaped = true }
        }
        guard seedShaped else { return try decoder.decode(body, format: .json, now: Date()) }
        guard items.count <= decoder.limits.maxBatchEvents else {
            throw RelayError(.tooLarge, "the request holds \(items.count) events; the limit is \(decoder.limits.maxBatchEvents) per request")
        }
        let now = Date()
        var drafts: [EventDraft] = []
        for (index, item) in items.enumerated() {
            guard body[item.lowerBound] == UInt8(ascii: "{") else {
                throw RelayError(.invalidEvent, "event \(index) is not a JSON object")
            }
            guard item.count <= decoder.limits.maxEventBytes else {
                throw RelayError(.tooLarge, "event \(index) has \(item.count) bytes; the limit is \(decoder.limits.maxEventBytes)")
            }
            var topic = "claude_event"
            var producerID: String?
            for member in try members(body, item, scanner) where body[member.value.lowerBound] == UInt8(ascii: "\"") {
                let text = try? JSONScanner.decodeString(body, quoted: member.value)
                switch member.key {
                // The seed's producers send free-form events: an unusable type keeps the default
                // topic, an unusable id makes the event non-idempotent; neither is refused.
                case "type": if let text, NameRule.isValid(text, maxBytes: decoder.limits.maxNameBytes) { topic = text }
                case "id": producerID = text.flatMap { NameRule.isValid($0, maxBytes: decoder.limits.maxNameBytes) ? $0 : nil }
                default: continue
                }
            }
            drafts.append(EventDraft(topic: topic, data: Array(body[item]), producerID: producerID, time: now))
        }
        return drafts
    }

    private func members(_ body: [UInt8], _ item: Range<Int>, _ scanner: JSONScanner) throws(RelayError) -> [(key: String, value: Range<Int>)] {
        do {
            return try scanner.members(ofObject: body, in: item)
        } catch {
            throw RelayError(.malformed, "an event is not valid JSON: \(error)")
        }
    }
}
