public import struct Foundation.Date
public import Synchronization

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

    /// This event in `format`, encoded by the first subscriber that sends it and shared with the
    /// rest (``WireCache``).
    @inlinable
    public func encoded<Format: WireFormat>(as format: Format.Type) -> Format.Encoded {
        Format.cache.encoded(self)
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
/// shared by every subscriber that receives it (``Event/encoded(as:)``), through the format's
/// ``WireCache`` (declare it as `static let cache = WireCache<Self>()`).
public protocol WireFormat {
    associatedtype Encoded: Sendable
    static func encode(_ event: Event) -> Encoded
    static var cache: WireCache<Self> { get }
}

/// The newest encodings of one ``WireFormat``, shared by every subscriber in the process: a ring
/// of 512 slots indexed by sequence number, so a live event is encoded once however many
/// subscribers send it, and an old one (a replay past the ring) is encoded again, not kept.
/// Only events of at most 4 KB of data are kept (a larger one is encoded for each subscriber),
/// so a format's cache holds a few MB at most and never keeps many events the log dropped.
///
/// Not a field of ``Event``: a reference there is one more shared reference count that every
/// delivery's copy of the event touches from every core, and one more allocation per event; the
/// core fan-out benchmark halved with it (10 subscribers: 9.0M to 4.6M deliveries/s).
///
/// A slot answers only for the very same event (sequence, time, topic and data compared), so
/// relays in one process (tests) or a new epoch can never get another event's bytes.
///
/// Ownership: the slots are behind 16 locks (a slot's lock is its sequence number modulo 16),
/// each held only to look up or to store one slot; encoding happens outside them. Two
/// subscribers that miss at the same moment may both encode; both send equal bytes.
public final class WireCache<Format: WireFormat>: Sendable {
    // Inlinable, so that a transport's calls are specialized for its format in its own module:
    // unspecialized, every lookup instantiated the generic metadata of the slots at run time,
    // measured at a fifth of Socket.IO's delivery cost (issue 16).
    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var event: Event
        @usableFromInline var encoded: Format.Encoded

        @inlinable
        init(event: Event, encoded: Format.Encoded) {
            self.event = event
            self.encoded = encoded
        }
    }

    @usableFromInline
    final class Stripe: Sendable {
        @usableFromInline let slots: Mutex<[Slot?]>

        @usableFromInline
        init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    }

    @inlinable static var stripeCount: Int { 16 }
    /// Slots in all: the newest 512 sequence numbers, which live subscribers are within.
    @inlinable static var slotCount: Int { 512 }
    @inlinable static var maxDataBytes: Int { 4096 }
    @usableFromInline let stripes: [Stripe]

    public init() {
        stripes = (0..<Self.stripeCount).map { _ in Stripe(count: Self.slotCount / Self.stripeCount) }
    }

    /// `event` in this format: the stored encoding when this very event has one, else a new one.
    @inlinable
    public func encoded(_ event: Event) -> Format.Encoded {
        guard event.data.count <= Self.maxDataBytes else { return Format.encode(event) }
        let index = Int(truncatingIfNeeded: event.seq % UInt64(Self.slotCount))
        let stripe = stripes[index % Self.stripeCount]
        let slot = index / Self.stripeCount
        if let found = stripe.slots.withLock({ slots -> Format.Encoded? in
            guard let stored = slots[slot], stored.event == event else { return nil }
            return stored.encoded
        }) {
            return found
        }
        let encoded = Format.encode(event)
        stripe.slots.withLock { $0[slot] = Slot(event: event, encoded: encoded) }
        return encoded
    }
}
