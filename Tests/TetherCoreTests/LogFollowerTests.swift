import Foundation
import MemoryStore
import Synchronization
import Testing
import TetherTesting
@testable import TetherCore

/// Several relays over one shared log (a memory log standing in for PostgreSQL): each relay's
/// view stays contiguous and its subscribers see every relay's events, in order, once.
@Suite struct LogFollowerTests {
    /// One memory log shared by several "relays"; every append reports the new head to all.
    final class SharedMemoryLog: Sendable {
        let base = MemoryBufferStore()
        private let subscribers = Mutex<[AsyncStream<UInt64>.Continuation]>([])

        func subscribe() -> AsyncStream<UInt64> {
            let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self)
            subscribers.withLock { $0.append(continuation) }
            return stream
        }

        func announce(_ head: UInt64) {
            for continuation in subscribers.withLock({ $0 }) { continuation.yield(head) }
        }
    }

    /// One relay's handle on the shared log.
    struct SharedMemoryStore: SharedLogStore {
        let log: SharedMemoryLog
        func open() async throws -> LogState { try await log.base.open() }
        func append(_ drafts: [EventDraft]) async throws -> AppendOutcome {
            let outcome = try await log.base.append(drafts)
            log.announce(outcome.log.head)
            return outcome
        }
        func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] { try await log.base.read(after: seq, limit: limit, maxBytes: maxBytes) }
        func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome { try await log.base.trim(policy, now: now) }
        func state() async throws -> LogState { try await log.base.state() }
        func close() async throws {}
        func headUpdates() -> AsyncStream<UInt64> { log.subscribe() }
    }

    @Test func localAppendAfterAnotherRelaysCommitWaitsForCatchUpInsteadOfLeavingAHole() async throws {
        let shared = SharedMemoryLog()
        let a = Relay(store: SharedMemoryStore(log: shared))
        let b = Relay(store: SharedMemoryStore(log: shared))
        try await a.start()
        try await b.start()
        #expect(try await b.publish(BufferStoreConformance.drafts(3)) == [1, 2, 3])
        #expect(try await a.publish(BufferStoreConformance.drafts(1, start: 3)) == [4])
        // A's own event follows B's, which A has not read yet: its view must not jump over them.
        #expect(a.logState.head == 0)
        #expect(try await a.fanOut.catchUp(to: 4) == 4)
        let (log, events) = try await a.events(after: 0, limit: 10)
        #expect(log.head == 4)
        #expect(events.map(\.seq) == [1, 2, 3, 4])
        #expect(events.map { String(decoding: $0.data, as: UTF8.self) } == (0..<4).map { "{\"n\":\($0)}" })
        // Applying a local outcome that catch-up already applied changes nothing.
        #expect(try await a.publish(BufferStoreConformance.drafts(1, start: 4)) == [5])
        #expect(a.logState.head == 5)
    }

    @Test func catchUpTreatsAHoleInTheStoreAsTrimmed() async throws {
        let shared = SharedMemoryLog()
        let a = Relay(store: SharedMemoryStore(log: shared))
        try await a.start()
        _ = try await shared.base.append(BufferStoreConformance.drafts(10))
        _ = try await shared.base.trim(RetentionPolicy(ttl: 3600, maxEvents: 4, maxBytes: 1 << 30), now: Date())
        #expect(try await a.fanOut.catchUp(to: 10) == 10)
        #expect(a.logState.oldest == 7)
        let session = try await a.subscribe(Hello(lastSequence: 0), transport: "test", remote: "")
        #expect(session.welcome.plan.gap == Gap(from: 1, to: 6, reason: .evicted))
        var buffer: [Event] = []
        #expect(try await session.next(into: &buffer, within: 30) == nil)
        #expect(buffer.map(\.seq) == [7, 8, 9, 10])
    }

    @Test func subscribersOnOneRelaySeeEveryRelaysEventsInOrderOnce() async throws {
        let shared = SharedMemoryLog()
        let a = Relay(store: SharedMemoryStore(log: shared))
        let b = Relay(store: SharedMemoryStore(log: shared))
        try await a.start()
        try await b.start()
        let followers = [a, b].map { relay in
            Task { try await LogFollower(relay: relay, store: relay.store as! any SharedLogStore, safetyPoll: .seconds(60)).run() }
        }
        defer { followers.forEach { $0.cancel() } }
        let session = try await a.subscribe(Hello(), transport: "test", remote: "")
        let total = 200
        async let published: Void = withThrowingTaskGroup(of: Void.self) { group in
            for (index, relay) in [a, b].enumerated() {
                group.addTask {
                    for n in 0..<(total / 8) {
                        _ = try await relay.publish(BufferStoreConformance.drafts(4, start: index * 1000 + n * 4))
                    }
                }
            }
            try await group.waitForAll()
        }
        var seen: [UInt64] = []
        var buffer: [Event] = []
        while seen.count < total {
            buffer.removeAll(keepingCapacity: true)
            let interruption = try await session.next(into: &buffer, within: 30)
            #expect(interruption == nil)
            seen += buffer.map(\.seq)
            if let last = buffer.last { try session.ack(last.seq) }
        }
        try await published
        #expect(seen == Array(1...UInt64(total)))
    }
}
