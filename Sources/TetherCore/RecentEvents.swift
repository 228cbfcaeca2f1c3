import DequeModule

/// The newest events of the log, held in memory so that live fan-out never reads the store.
///
/// Every subscriber reads from this one shared window through its own cursor: an event is held
/// once however many subscribers there are. A cursor that falls behind the window reads the
/// store instead (the replay path). Bounded by count and bytes; owned by the relay's log lock.
public struct RecentEvents: Sendable {
    public let maxEvents: Int
    public let maxBytes: Int
    private var events: Deque<Event> = []
    private(set) var bytes = 0

    public init(maxEvents: Int, maxBytes: Int) {
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(1, maxBytes)
    }

    /// The oldest sequence number held, or `nil` when empty.
    public var firstSeq: UInt64? { events.first?.seq }
    public var count: Int { events.count }

    /// Appends events that directly follow the ones held (the relay appends in sequence order).
    public mutating func append<S: Sequence<Event>>(contentsOf newEvents: S) {
        for event in newEvents {
            if let last = events.last, event.seq != last.seq + 1 {
                // A hole can only come from a store that skipped numbers; never serve across it.
                removeAll()
            }
            events.append(event)
            bytes += event.retainedBytes
        }
        while events.count > maxEvents || (bytes > maxBytes && events.count > 1) {
            bytes -= events.removeFirst().retainedBytes
        }
    }

    /// Drops events below `oldest` (after the store trimmed them).
    public mutating func trim(below oldest: UInt64) {
        while let first = events.first, first.seq < oldest {
            bytes -= events.removeFirst().retainedBytes
        }
    }

    public mutating func removeAll() {
        events.removeAll(keepingCapacity: true)
        bytes = 0
    }

    /// Whether events after `seq` can be served from here (nothing between `seq` and the window).
    public func covers(after seq: UInt64) -> Bool {
        guard let first = events.first?.seq else { return true }
        return seq >= first - 1  // sequences start at 1, so `first - 1` cannot underflow
    }

    /// Appends to `buffer` up to `limit` held events with `seq > after`, ending early once they
    /// hold `maxBytes` (at least one is appended when any follows). Does not allocate when
    /// `buffer` has the capacity. Returns how many it appended.
    @discardableResult
    public func read(after seq: UInt64, limit: Int, maxBytes: Int = .max, into buffer: inout [Event]) -> Int {
        // Written so that no `seq` overflows: anything at or past the newest held reads nothing.
        guard let first = events.first?.seq, let last = events.last?.seq, seq < last, limit > 0 else { return 0 }
        let start = seq < first ? 0 : Int(seq - first) + 1
        let end = min(events.count, start + limit)
        if maxBytes == .max {
            for index in start..<end { buffer.append(events[index]) }
            return end - start
        }
        var bytes = 0
        for index in start..<end {
            buffer.append(events[index])
            bytes += events[index].retainedBytes
            if bytes >= maxBytes { return index - start + 1 }
        }
        return end - start
    }
}
