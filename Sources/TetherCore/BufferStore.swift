public import struct Foundation.Date

/// The relay's one shared, ordered log of events.
///
/// A store owns sequence assignment: ``append(_:)`` gives each new event the next sequence
/// number of the store's ``Epoch`` and returns only once the events are as durable as the store
/// promises (for a durable store: committed). The relay calls `append` from one task at a time
/// and hands the result to subscribers in that order, so a store need not order concurrent calls.
///
/// What the relay relies on:
/// - sequence numbers start at 1 in a new epoch and are strictly increasing, with no reuse;
/// - `append` is all or nothing: on a throw, no event of the call is stored or sequenced;
/// - an event whose `producerID` is already in the log is not stored again: its existing
///   sequence number is returned (idempotent publish);
/// - `read` returns retained events in order; trimmed events are simply absent;
/// - ``trim(_:now:)`` removes events from the old end only, and remembers why (``TrimHistory``).
///
/// A store with background work (a trimmer, a connection pool) may also conform to `Service`.
///
/// What a store offers beyond the log is said by ``clientRecords`` and ``sharedLog``, which the
/// relay reads once, when it is created; nothing downcasts a store to find out. A store that
/// conforms to ``ClientRecordStore`` or ``SharedLogStore`` gets them by default; a decorator (a
/// store that wraps another) must pass on every capability of the store it wraps.
public protocol BufferStore: Sendable {
    /// Opens (or creates) the log and says where it stands. Called once before any other method.
    func open() async throws -> LogState

    /// Appends events as one unit and returns the sequence number of each draft, in order.
    func append(_ drafts: [EventDraft]) async throws -> AppendOutcome

    /// Up to `limit` retained events with `seq > after`, in order, ending early once the events
    /// read hold `maxBytes` (``Event/retainedBytes``): what one read costs is bounded by bytes, not
    /// only by count, whatever the events' size. When any event follows `after`, at least one is
    /// returned, so a reader always makes progress.
    func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event]

    /// Removes events that the policy no longer retains at `now`.
    func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome

    /// Where the log stands now. Cheap: the health monitor calls it as its liveness probe.
    func state() async throws -> LogState

    /// Flushes and releases the store. No other method is called afterwards.
    func close() async throws

    /// This store as a keeper of client records, or `nil` when it keeps none (the relay then
    /// forgets its clients on restart).
    var clientRecords: (any ClientRecordStore)? { get }

    /// This store as a log shared with other relays, or `nil` when this relay is its only writer.
    var sharedLog: (any SharedLogStore)? { get }
}

extension BufferStore {
    /// A plain log: no client records.
    public var clientRecords: (any ClientRecordStore)? { nil }
    /// A plain log: this relay is its only writer.
    public var sharedLog: (any SharedLogStore)? { nil }

    /// Up to `limit` retained events with `seq > after`, in order, with no byte bound (tests,
    /// small logs). The relay always bounds its reads.
    public func read(after seq: UInt64, limit: Int) async throws -> [Event] {
        try await read(after: seq, limit: limit, maxBytes: .max)
    }
}

/// Where a log stands: its epoch, its newest and oldest retained sequence numbers and its size.
public struct LogState: Sendable, Hashable {
    public var epoch: Epoch
    /// The newest sequence number ever assigned in this epoch (0 before the first event).
    public var head: UInt64
    /// The oldest retained sequence number; `head + 1` when nothing is retained.
    public var oldest: UInt64
    public var depthEvents: Int
    public var depthBytes: Int
    public var trims: TrimHistory

    public init(epoch: Epoch, head: UInt64, oldest: UInt64, depthEvents: Int, depthBytes: Int, trims: TrimHistory) {
        self.epoch = epoch
        self.head = head
        self.oldest = oldest
        self.depthEvents = depthEvents
        self.depthBytes = depthBytes
        self.trims = trims
    }
}

/// What one ``BufferStore/append(_:)`` did.
public struct AppendOutcome: Sendable {
    /// One sequence number per draft, in the drafts' order; a duplicate producer id maps to the
    /// sequence number the log already had for it.
    public var sequences: [UInt64]
    /// The events that are new in the log, in sequence order (duplicates are not repeated).
    public var appended: [Event]
    /// Events the count or byte cap pushed out of the log to make room.
    public var evictedEvents: Int
    /// The log after the append.
    public var log: LogState

    public init(sequences: [UInt64], appended: [Event], evictedEvents: Int, log: LogState) {
        self.sequences = sequences
        self.appended = appended
        self.evictedEvents = evictedEvents
        self.log = log
    }
}

/// What a trim removed.
public struct TrimOutcome: Sendable, Hashable {
    public var removedEvents: Int
    public var removedBytes: Int
    /// The log after the trim.
    public var log: LogState

    public init(removedEvents: Int, removedBytes: Int, log: LogState) {
        self.removedEvents = removedEvents
        self.removedBytes = removedBytes
        self.log = log
    }
}
