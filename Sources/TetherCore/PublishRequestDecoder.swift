public import struct Foundation.Date

/// Limits on what a producer may submit, each refused with a clear error.
public struct IngestLimits: Sendable, Hashable {
    /// Largest `data` payload of one event, in bytes.
    public var maxEventBytes = 1 << 20
    /// Largest request body (a whole batch), in bytes.
    public var maxBodyBytes = 16 << 20
    /// Most events in one request.
    public var maxBatchEvents = 10_000
    /// Deepest nesting of arrays and objects in a request.
    public var maxDepth = 64
    /// Longest topic and producer id, in bytes.
    public var maxNameBytes = 256

    public init() {}
}

/// Turns a publish request body into drafts, all or nothing: the first bad item refuses the whole
/// request, naming the item and the problem.
///
/// Accepted shapes (`docs/PROTOCOL.md`): one JSON object, a JSON array of objects, or NDJSON (one
/// object per line), each `{"topic": "...", "data": <any JSON>, "id": "optional producer id"}`.
/// The `data` bytes are kept exactly as sent.
public struct PublishRequestDecoder: Sendable {
    public enum Format: Sendable, Hashable {
        case json
        case ndjson
    }

    public var limits: IngestLimits

    public init(limits: IngestLimits = IngestLimits()) {
        self.limits = limits
    }

    public func decode(_ body: [UInt8], format: Format, now: Date = Date()) throws(RelayError) -> [EventDraft] {
        guard body.count <= limits.maxBodyBytes else {
            throw RelayError(.tooLarge, "request body is \(body.count) bytes; the limit is \(limits.maxBodyBytes)")
        }
        let scanner = JSONScanner(maxDepth: limits.maxDepth)
        var items: [Range<Int>] = []
        switch format {
        case .json:
            let value = try validated(scanner) { () throws(JSONSyntaxError) in try scanner.validateDocument(body, in: body.indices) }
            if body[value.lowerBound] == UInt8(ascii: "[") {
                items = try validated(scanner) { () throws(JSONSyntaxError) in try scanner.elements(ofArray: body, in: value) }
            } else {
                items = [value]
            }
        case .ndjson:
            var lineStart = 0
            var line = 1
            while lineStart < body.count {
                let lineEnd = body[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? body.count
                let range = lineStart..<lineEnd
                if body[range].contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
                    do {
                        items.append(try scanner.validateDocument(body, in: range))
                    } catch {
                        throw RelayError(.malformed, "line \(line) is not valid JSON: \(error.kind.rawValue) at byte \(error.offset - lineStart)")
                    }
                }
                lineStart = lineEnd + 1
                line += 1
            }
        }
        guard !items.isEmpty else { throw RelayError(.invalidEvent, "the request holds no events") }
        guard items.count <= limits.maxBatchEvents else {
            throw RelayError(.tooLarge, "the request holds \(items.count) events; the limit is \(limits.maxBatchEvents) per request")
        }
        var drafts: [EventDraft] = []
        drafts.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            drafts.append(try draft(body, item, index: index, count: items.count, scanner: scanner, now: now))
        }
        return drafts
    }

    private func validated<T>(_ scanner: JSONScanner, _ body: () throws(JSONSyntaxError) -> T) throws(RelayError) -> T {
        do {
            return try body()
        } catch {
            throw RelayError(.malformed, "the request body is not valid JSON: \(error)")
        }
    }

    private func draft(_ body: [UInt8], _ item: Range<Int>, index: Int, count: Int, scanner: JSONScanner, now: Date) throws(RelayError) -> EventDraft {
        let which = count == 1 ? "the event" : "event \(index)"
        guard body[item.lowerBound] == UInt8(ascii: "{") else {
            throw RelayError(.invalidEvent, "\(which) is not a JSON object; send {\"topic\": \"...\", \"data\": ...}")
        }
        let members: [(key: String, value: Range<Int>)]
        do {
            members = try scanner.members(ofObject: body, in: item)
        } catch {
            throw RelayError(.malformed, "\(which) is not valid JSON: \(error)")
        }
        return try draft(body, members: members, which: which, now: now)
    }

    /// The event envelope of one JSON object whose members a caller has already scanned (a
    /// WebSocket `publish` frame is itself the envelope): the same checks as ``decode(_:format:now:)``,
    /// without reading the bytes again.
    public func draft(_ body: [UInt8], members: [(key: String, value: Range<Int>)], now: Date = Date()) throws(RelayError) -> EventDraft {
        try draft(body, members: members, which: "the event", now: now)
    }

    private func draft(_ body: [UInt8], members: [(key: String, value: Range<Int>)], which: String, now: Date) throws(RelayError) -> EventDraft {
        var topic: String?
        var data: Range<Int>?
        var producerID: String?
        for member in members {
            switch member.key {
            case "topic": topic = try string(body, member.value, field: "topic", which: which)
            case "id": producerID = try string(body, member.value, field: "id", which: which)
            case "data": data = member.value
            default: continue  // unknown fields are ignored, so producers can add their own
            }
        }
        guard let topic, !topic.isEmpty else {
            throw RelayError(.invalidEvent, "\(which) has no \"topic\" (a non-empty string)")
        }
        try NameRule.check(topic, field: "the \"topic\" of \(which)", code: .invalidEvent, maxBytes: limits.maxNameBytes)
        if let producerID {
            try NameRule.check(producerID, field: "the \"id\" of \(which)", code: .invalidEvent, maxBytes: limits.maxNameBytes)
        }
        let payload: [UInt8] = data.map { Array(body[$0]) } ?? Array("null".utf8)
        guard payload.count <= limits.maxEventBytes else {
            throw RelayError(.tooLarge, "\(which) has \(payload.count) bytes of data; the limit is \(limits.maxEventBytes)")
        }
        return EventDraft(topic: topic, data: payload, producerID: producerID, time: now)
    }

    private func string(_ body: [UInt8], _ range: Range<Int>, field: String, which: String) throws(RelayError) -> String {
        guard body[range.lowerBound] == UInt8(ascii: "\"") else {
            throw RelayError(.invalidEvent, "\(which) has a \"\(field)\" that is not a string")
        }
        do {
            return try JSONScanner.decodeString(body, quoted: range)
        } catch {
            throw RelayError(.malformed, "\(which) has an unreadable \"\(field)\": \(error)")
        }
    }
}
