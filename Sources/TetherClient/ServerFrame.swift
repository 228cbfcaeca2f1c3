public import TetherCore

/// One event as the client received it: its sequence number, topic, publish time, and the
/// producer's `data` bytes exactly as they arrived.
public struct ReceivedEvent: Sendable, Hashable {
    public var seq: UInt64
    public var topic: String
    /// The relay's publish time, as sent (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
    public var time: String
    /// The payload: one JSON value, unparsed.
    public var data: [UInt8]
    /// The whole event frame as received (for printing it as JSON).
    public var frame: [UInt8]
}

/// The relay's `welcome`: who the client is now and what the replay holds.
public struct WelcomeInfo: Sendable, Hashable {
    public var clientID: String
    public var epoch: String
    public var head: UInt64
    public var resumed: Bool
    public var replayFrom: UInt64
    public var replayTo: UInt64
    public var replayCount: Int
    public var gap: Gap?
    public var reset: Bool
}

/// A relay frame, parsed (`docs/PROTOCOL.md`). Unknown types and fields are ignored, so that a
/// newer relay does not break an older client.
enum ServerFrame: Sendable {
    case welcome(WelcomeInfo, resumeToken: String)
    case event(ReceivedEvent)
    /// An `events` frame: several events, in order (sent to clients that asked with `batch`).
    case events([ReceivedEvent])
    case gap(Gap)
    case ping(id: [UInt8])
    case pong(id: [UInt8])
    case published(id: String?, seq: UInt64)
    case stats([UInt8])
    case error(code: String, message: String, id: String?, close: Int?)
    case other

    /// `{"type":"event",`: what an event object of an `events` frame lacks to be an `event` frame.
    static let eventFramePrefix = Array("{\"type\":\"event\",".utf8)

    static func parse(_ bytes: [UInt8]) -> ServerFrame? {
        let scanner = JSONScanner(maxDepth: 256)
        guard let document = try? scanner.validateDocument(bytes, in: bytes.indices),
            let members = try? scanner.members(ofObject: bytes, in: document)
        else { return nil }
        let fields = Fields(bytes: bytes, members: members)
        switch fields.string("type") {
        case "welcome":
            guard let clientID = fields.string("client_id"), let epoch = fields.string("epoch"),
                let replayRange = fields.range("replay"),
                let replayMembers = try? scanner.members(ofObject: bytes, in: replayRange)
            else { return nil }
            let replay = Fields(bytes: bytes, members: replayMembers)
            var gap: Gap?
            if let gapRange = replay.range("gap"), let gapMembers = try? scanner.members(ofObject: bytes, in: gapRange) {
                gap = Fields(bytes: bytes, members: gapMembers).gap()
            }
            let info = WelcomeInfo(
                clientID: clientID, epoch: epoch, head: fields.unsigned("head") ?? 0,
                resumed: fields.raw("resumed") == "true",
                replayFrom: replay.unsigned("from") ?? 0, replayTo: replay.unsigned("to") ?? 0,
                replayCount: Int(replay.unsigned("count") ?? 0), gap: gap, reset: replay.raw("reset") == "true"
            )
            return .welcome(info, resumeToken: fields.string("resume_token") ?? "")
        case "event":
            guard let seq = fields.unsigned("seq"), let data = fields.range("data") else { return nil }
            return .event(ReceivedEvent(seq: seq, topic: fields.string("topic") ?? "", time: fields.string("time") ?? "", data: Array(bytes[data]), frame: bytes))
        case "events":
            guard let list = fields.range("events"), let elements = try? scanner.elements(ofArray: bytes, in: list) else { return nil }
            var events: [ReceivedEvent] = []
            events.reserveCapacity(elements.count)
            for element in elements {
                guard let members = try? scanner.members(ofObject: bytes, in: element) else { return nil }
                let event = Fields(bytes: bytes, members: members)
                guard let seq = event.unsigned("seq"), let data = event.range("data") else { return nil }
                // Each event's own frame, as the single-event form would have carried it.
                var frame: [UInt8] = []
                frame.reserveCapacity(Self.eventFramePrefix.count + element.count - 1)
                frame += Self.eventFramePrefix
                frame += bytes[(element.lowerBound + 1)..<element.upperBound]
                events.append(ReceivedEvent(seq: seq, topic: event.string("topic") ?? "", time: event.string("time") ?? "", data: Array(bytes[data]), frame: frame))
            }
            return .events(events)
        case "gap":
            return fields.gap().map(ServerFrame.gap)
        case "ping":
            return .ping(id: fields.range("id").map { Array(bytes[$0]) } ?? Array("null".utf8))
        case "pong":
            return .pong(id: fields.range("id").map { Array(bytes[$0]) } ?? Array("null".utf8))
        case "published":
            return .published(id: fields.string("id"), seq: fields.unsigned("seq") ?? 0)
        case "stats":
            return .stats(fields.range("data").map { Array(bytes[$0]) } ?? [])
        case "error":
            return .error(
                code: fields.string("code") ?? "unknown", message: fields.string("message") ?? "",
                id: fields.string("id"), close: fields.unsigned("close").map { Int($0) }
            )
        default:
            return .other
        }
    }

    private struct Fields {
        let bytes: [UInt8]
        let members: [(key: String, value: Range<Int>)]

        func range(_ key: String) -> Range<Int>? {
            guard let range = members.last(where: { $0.key == key })?.value, raw(range) != "null" else { return nil }
            return range
        }

        func raw(_ key: String) -> String? { range(key).map(raw) }

        private func raw(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

        func string(_ key: String) -> String? {
            guard let range = range(key), bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
            return try? JSONScanner.decodeString(bytes, quoted: range)
        }

        func unsigned(_ key: String) -> UInt64? { raw(key).flatMap { UInt64($0) } }

        func gap() -> Gap? {
            guard let from = unsigned("from"), let to = unsigned("to") else { return nil }
            return Gap(from: from, to: to, reason: string("reason").flatMap(GapReason.init(rawValue:)) ?? .evicted)
        }
    }
}
