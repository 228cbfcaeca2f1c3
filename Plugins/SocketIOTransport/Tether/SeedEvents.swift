import TetherCore
import struct Foundation.Date

/// The JSON of the events the seed's dashboards listen for (docs/SOCKETIO.md lists each one).
enum SeedEvents {
    /// One relay event as the seed's dashboards read it: `{"sequence", "type", "topic",
    /// "timestamp", "data"}`, with the producer's `data` spliced in unchanged.
    static func event(_ event: Event, into w: inout JSONWriter) {
        w.raw("{\"sequence\":")
        w.number(event.seq)
        w.raw(",\"type\":")
        w.string(event.topic)
        w.raw(",\"topic\":")
        w.string(event.topic)
        w.raw(",\"timestamp\":")
        w.timestamp(event.time)
        w.raw(",\"data\":")
        w.raw(event.data)
        w.raw("}")
    }

    static func event(_ event: Event) -> [UInt8] {
        event.encoded(as: SeedEventJSON.self)
    }

    /// `{"events": [...], "count": N, <extra members>}` for `event_replay` and `event_history`.
    static func batch(_ events: [Event], extra: (inout JSONWriter) -> Void) -> [UInt8] {
        var w = JSONWriter(capacity: events.reduce(64) { $0 + $1.data.count + 128 })
        w.raw("{\"events\":[")
        for (index, item) in events.enumerated() {
            if index > 0 { w.raw(",") }
            event(item, into: &w)
        }
        w.raw("],\"count\":")
        w.number(events.count)
        extra(&w)
        w.raw("}")
        return w.bytes
    }

    static func gap(_ gap: Gap, into w: inout JSONWriter) {
        w.gap(gap)
    }

    static func gap(_ value: Gap) -> [UInt8] {
        var w = JSONWriter()
        gap(value, into: &w)
        return w.bytes
    }

    /// `connection_established`: who the client is and what it is about to receive.
    static func established(_ welcome: Welcome, token: String?, socketID: String, recovered: Bool) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"client_id\":")
        w.string(welcome.clientID)
        if let token {
            w.raw(",\"resume_token\":")
            w.string(token)
        }
        w.raw(",\"socket_id\":")
        w.string(socketID)
        w.raw(",\"epoch\":")
        w.string(welcome.epoch.rawValue)
        w.raw(",\"sequence\":")
        w.number(welcome.plan.head)
        w.raw(",\"server_time\":")
        w.timestamp(Date())
        w.raw(",\"resumed\":")
        w.raw(welcome.resumed ? "true" : "false")
        w.raw(",\"recovered\":")
        w.raw(recovered ? "true" : "false")
        w.raw(",\"reset\":")
        w.raw(welcome.plan.reset ? "true" : "false")
        w.raw(",\"replay_count\":")
        w.number(welcome.replayCount)
        if let gap = welcome.plan.gap {
            w.raw(",\"gap\":")
            Self.gap(gap, into: &w)
        }
        w.raw("}")
        return w.bytes
    }

    /// A JSON string literal.
    static func string(_ text: String) -> [UInt8] {
        var w = JSONWriter(capacity: text.utf8.count + 2)
        w.string(text)
        return w.bytes
    }
}

/// A live event as the seed's `claude_event` argument: encoded once per event and shared by every
/// Socket.IO subscriber that receives it (``SeedEvents/event(_:)``).
enum SeedEventJSON: WireFormat {
    static let cache = WireCache<Self>()

    static func encode(_ event: Event) -> [UInt8] {
        var w = JSONWriter(capacity: event.data.count + 96 + event.topic.utf8.count * 2)
        SeedEvents.event(event, into: &w)
        return w.bytes
    }
}
