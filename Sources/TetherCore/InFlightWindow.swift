import DequeModule
public import struct Foundation.Date

/// The events a subscriber was sent and has not acknowledged yet, oldest first.
///
/// Acknowledgements are cumulative (`ack N` covers every seq <= N), so the window is a queue:
/// an ack pops from the front. Capacity is the flow-control window W; the deque grows to what the
/// client's pace needs (at most W) and keeps that storage, so steady-state delivery does not
/// allocate and an idle subscriber holds no window-sized buffer.
public struct InFlightWindow: Sendable {
    public struct Entry: Sendable, Hashable {
        public var seq: UInt64
        public var publishedAt: Date
    }

    public let capacity: Int
    private var entries: Deque<Entry>

    public init(capacity: Int) {
        precondition(capacity > 0, "the in-flight window must allow at least one event")
        self.capacity = capacity
        self.entries = Deque()
    }

    public var count: Int { entries.count }
    public var isFull: Bool { entries.count >= capacity }
    public var freeSlots: Int { capacity - entries.count }
    /// The oldest unacknowledged event, if any.
    public var oldest: Entry? { entries.first }

    public mutating func sent(_ event: Event) {
        entries.append(Entry(seq: event.seq, publishedAt: event.time))
    }

    /// Removes every entry with `seq <= through` and hands each to `body` (for latency
    /// accounting). Returns how many were acknowledged.
    @discardableResult
    public mutating func acknowledge(through seq: UInt64, _ body: (Entry) -> Void = { _ in }) -> Int {
        var acknowledged = 0
        while let first = entries.first, first.seq <= seq {
            body(first)
            entries.removeFirst()
            acknowledged += 1
        }
        return acknowledged
    }

    /// Forgets everything in flight (the connection ended; the client's cursor is its last ack).
    public mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
    }
}
