public import struct Foundation.Date
import Synchronization

/// One accepted event: its place in the log (`seq`, unique and strictly increasing within an
/// ``Epoch``), its topic, its publish time and its payload.
///
/// `data` holds the producer's JSON bytes exactly as they arrived. They are validated once at
/// ingest and never re-encoded, so every transport can splice them into its own framing.
///
/// Two events are equal when their fields are; ``wire`` (the encodings transports made of it) is
/// a cache and takes no part.
public struct Event: Sendable, Hashable {
    public var seq: UInt64
    public var topic: String
    public var time: Date
    /// The payload: one complete JSON value, as the producer sent it.
    public var data: [UInt8]
    /// The producer's idempotency key, if it gave one.
    public var producerID: String?
    /// This event as each transport puts it on the wire, made once and shared by every
    /// subscriber that sends it (copies of the event share it).
    public let wire = WireForms()

    public init(seq: UInt64, topic: String, time: Date, data: [UInt8], producerID: String? = nil) {
        self.seq = seq
        self.topic = topic
        self.time = time
        self.data = data
        self.producerID = producerID
    }

    public static func == (lhs: Event, rhs: Event) -> Bool {
        lhs.seq == rhs.seq && lhs.topic == rhs.topic && lhs.time == rhs.time && lhs.data == rhs.data && lhs.producerID == rhs.producerID
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(seq)
        hasher.combine(topic)
        hasher.combine(time)
        hasher.combine(data)
        hasher.combine(producerID)
    }

    /// This event in `format`, encoded by the first caller and shared with the rest.
    public func encoded<Format: WireFormat>(as format: Format.Type) -> Format.Encoded {
        wire.form(format, of: self)
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

/// One way a transport puts an event on the wire (a native WebSocket frame, an SSE record, an
/// Engine.IO packet). Its encoding depends on the event alone, so it is made once per event and
/// shared by every subscriber that receives it (``Event/encoded(as:)``).
public protocol WireFormat {
    associatedtype Encoded: Sendable
    static func encode(_ event: Event) -> Encoded
}

/// The encodings made of one event, one per ``WireFormat`` (a handful at most), kept as long as
/// the event is (in the fan-out's window of recent events, or a replay page).
///
/// Ownership: shared by every copy of its event; the list is behind its own lock, held only to
/// look up or to add. Two subscribers that miss at the same moment may both encode; the first to
/// store its encoding wins and both send equal bytes.
public final class WireForms: Sendable {
    private let forms = Mutex<[(format: ObjectIdentifier, encoded: any Sendable)]>([])

    public init() {}

    func form<Format: WireFormat>(_ format: Format.Type, of event: Event) -> Format.Encoded {
        let key = ObjectIdentifier(format)
        if let found = forms.withLock({ $0.first { $0.format == key }?.encoded }) as? Format.Encoded { return found }
        let encoded = Format.encode(event)
        return forms.withLock { forms in
            if let found = forms.first(where: { $0.format == key })?.encoded as? Format.Encoded { return found }
            forms.append((key, encoded))
            return encoded
        }
    }
}
