public import struct Foundation.Date

/// One accepted event: its place in the log (`seq`, unique and strictly increasing within an
/// ``Epoch``), its topic, its publish time and its payload.
///
/// `data` holds the producer's JSON bytes exactly as they arrived. They are validated once at
/// ingest and never re-encoded, so every transport can splice them into its own framing.
public struct Event: Sendable, Hashable {
    public var seq: UInt64
    public var topic: String
    public var time: Date
    /// The payload: one complete JSON value, as the producer sent it.
    public var data: [UInt8]
    /// The producer's idempotency key, if it gave one.
    public var producerID: String?

    public init(seq: UInt64, topic: String, time: Date, data: [UInt8], producerID: String? = nil) {
        self.seq = seq
        self.topic = topic
        self.time = time
        self.data = data
        self.producerID = producerID
    }

    /// What the event costs against the log's byte cap: payload, topic and producer id, plus a
    /// fixed per-event overhead so that a flood of empty events is still bounded.
    public var retainedBytes: Int {
        data.count + topic.utf8.count + (producerID?.utf8.count ?? 0) + Self.fixedOverhead
    }

    static let fixedOverhead = 48
    /// What ``retainedBytes`` counts for an event beyond its data, topic and producer id.
    public static var fixedOverheadBytes: Int { fixedOverhead }
}

/// An event as a producer submitted it, before the log gave it a sequence number.
public struct EventDraft: Sendable, Hashable {
    public var topic: String
    public var data: [UInt8]
    public var producerID: String?
    public var time: Date

    public init(topic: String, data: [UInt8], producerID: String? = nil, time: Date = Date()) {
        self.topic = topic
        self.data = data
        self.producerID = producerID
        self.time = time
    }

    /// The event this draft becomes at `seq`.
    public func sequenced(_ seq: UInt64) -> Event {
        Event(seq: seq, topic: topic, time: time, data: data, producerID: producerID)
    }
}
