public import TetherCore
public import struct Foundation.Date
import DequeModule
import Synchronization

/// A ``BufferStore`` held in memory: a ring of events bounded by the retention policy. Fast and
/// volatile: every start is a new epoch, so clients that resume across a restart are reset.
///
/// State is owned by one `Mutex`; no call suspends while holding it.
public final class MemoryBufferStore: BufferStore {
    public struct Configuration: Sendable, Hashable {
        public var retention: RetentionPolicy

        public init(retention: RetentionPolicy = RetentionPolicy()) {
            self.retention = retention
        }
    }

    private struct Log: ~Copyable {
        var epoch = Epoch.random()
        var events: Deque<Event> = []
        var head: UInt64 = 0
        var bytes = 0
        var trims = TrimHistory()
        /// Producer ids of retained events, for idempotent publish.
        var producerIDs: [String: UInt64] = [:]

        var oldest: UInt64 { events.first?.seq ?? head + 1 }

        var state: LogState {
            LogState(epoch: epoch, head: head, oldest: oldest, depthEvents: events.count, depthBytes: bytes, trims: trims)
        }

        /// Removes the oldest event, recording why it left.
        mutating func removeOldest(_ reason: GapReason) -> Int {
            let event = events.removeFirst()
            bytes -= event.retainedBytes
            if let id = event.producerID, producerIDs[id] == event.seq { producerIDs[id] = nil }
            trims.record(through: event.seq, reason: reason)
            return event.retainedBytes
        }
    }

    public let configuration: Configuration
    private let log = Mutex(Log())

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public func open() async throws -> LogState {
        log.withLock { $0.state }
    }

    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome {
        let cap = configuration.retention
        return log.withLock { log in
            var sequences: [UInt64] = []
            sequences.reserveCapacity(drafts.count)
            var appended: [Event] = []
            appended.reserveCapacity(drafts.count)
            for draft in drafts {
                if let id = draft.producerID, let existing = log.producerIDs[id] {
                    sequences.append(existing)
                    continue
                }
                log.head += 1
                let event = draft.sequenced(log.head)
                log.events.append(event)
                log.bytes += event.retainedBytes
                if let id = draft.producerID { log.producerIDs[id] = event.seq }
                sequences.append(event.seq)
                appended.append(event)
            }
            var evicted = 0
            while log.events.count > 1, log.events.count > cap.maxEvents || log.bytes > cap.maxBytes {
                _ = log.removeOldest(.evicted)
                evicted += 1
            }
            return AppendOutcome(sequences: sequences, appended: appended, evictedEvents: evicted, log: log.state)
        }
    }

    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        log.withLock { log in
            guard let first = log.events.first?.seq, let last = log.events.last?.seq, seq < last, limit > 0 else { return [] }
            let start = seq < first ? 0 : Int(seq - first) + 1
            var events: [Event] = []
            var bytes = 0
            for index in start..<min(log.events.count, start + limit) {
                let event = log.events[index]
                events.append(event)
                bytes += event.retainedBytes
                if bytes >= maxBytes { break }
            }
            return events
        }
    }

    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome {
        log.withLock { log in
            var removed = 0
            var removedBytes = 0
            while let first = log.events.first, now.timeIntervalSince(first.time) > policy.ttl {
                removedBytes += log.removeOldest(.ttl)
                removed += 1
            }
            while log.events.count > policy.maxEvents || (log.bytes > policy.maxBytes && !log.events.isEmpty) {
                removedBytes += log.removeOldest(.evicted)
                removed += 1
            }
            return TrimOutcome(removedEvents: removed, removedBytes: removedBytes, log: log.state)
        }
    }

    public func state() async throws -> LogState {
        log.withLock { $0.state }
    }

    public func close() async throws {}
}

extension MemoryBufferStore {
    /// The registry entry for this store.
    public static let plugin = PluginDescriptor<any BufferStore>(
        name: "memory",
        summary: "in-memory ring buffer; fast, lost on restart (every start is a new epoch)"
    ) { context in
        MemoryBufferStore(configuration: Configuration(retention: context.retention))
    }
}
