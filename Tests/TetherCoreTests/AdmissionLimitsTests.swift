import Foundation
import Testing
import MemoryStore
@testable import TetherCore

/// Connection limits, the publish rate limiter, topics per client and the once-a-minute refusal log.
@Suite("Admission limits")
struct AdmissionLimitsTests {
    @Test func connectionsAreRefusedPerAddressThenInTotalAndSlotsComeBack() throws {
        let limits = ConnectionLimits(maxTotal: 3, maxPerAddress: 2)
        let a1 = try limits.admit("10.0.0.1")
        let a2 = try limits.admit("10.0.0.1")
        let error = #expect(throws: RelayError.self) { try limits.check("10.0.0.1") }
        #expect(error?.code == .tooManyConnections)
        #expect(error?.message.contains("limits.max-connections-per-address") == true)
        let b1 = try limits.admit("10.0.0.2")
        let busy = #expect(throws: RelayError.self) { _ = try limits.admit("10.0.0.3") }
        #expect(busy?.code == .serverBusy)
        #expect(limits.open() == 3)
        a1.release()
        a1.release()  // idempotent
        #expect(limits.open() == 2)
        #expect(limits.open(from: "10.0.0.1") == 1)
        _ = try limits.admit("10.0.0.3")  // dropped at once: its deinit gives the slot back
        #expect(limits.open() == 2)
        _ = (a2, b1)
    }

    @Test func zeroMeansNoConnectionLimit() throws {
        let limits = ConnectionLimits(maxTotal: 0, maxPerAddress: 0)
        let tickets = try (0..<100).map { _ in try limits.admit("x") }
        #expect(limits.open() == 100)
        _ = tickets
    }

    @Test func pendingConnectionsHaveTheirOwnPoolAndMoveToTheMainOneOnPromotion() throws {
        let limits = ConnectionLimits(maxTotal: 1, maxPerAddress: 0, maxPending: 3, maxPendingPerAddress: 2)
        // Pending connections never take the main pool's slots...
        let p1 = try limits.admit("10.0.0.1", pool: .pending)
        let p2 = try limits.admit("10.0.0.1", pool: .pending)
        let share = #expect(throws: RelayError.self) { _ = try limits.admit("10.0.0.1", pool: .pending) }
        #expect(share?.code == .tooManyConnections && share?.message.contains("limits.max-pending-connections-per-address") == true)
        let p3 = try limits.admit("10.0.0.2", pool: .pending)
        let full = #expect(throws: RelayError.self) { _ = try limits.admit("10.0.0.3", pool: .pending) }
        #expect(full?.code == .serverBusy && full?.message.contains("limits.max-pending-connections") == true)
        #expect(limits.pending() == 3 && limits.open() == 0)
        // ...so an authenticated one still gets in.
        let holder = try limits.admit("10.0.0.9")
        #expect(holder.isAuthenticated && !holder.isPending)
        // Promotion needs room in the main pool; refused, the slot stays pending.
        let busy = #expect(throws: RelayError.self) { try p1.promote() }
        #expect(busy?.code == .serverBusy && p1.isPending)
        holder.release()
        try p1.promote()
        try p1.promote()  // idempotent
        #expect(p1.isAuthenticated && limits.open() == 1 && limits.pending() == 2 && limits.pending(from: "10.0.0.1") == 1)
        // Release gives back the pool the slot is in, once.
        p1.release()
        p2.release()
        p2.release()
        try p3.promote()  // released slots and promoted ones never count twice
        #expect(limits.open() == 1 && limits.pending() == 0)
        p3.release()
        #expect(limits.open() == 0 && limits.pending() == 0 && limits.open(from: "10.0.0.2") == 0)
    }

    @Test func concurrentPromotionAndReleaseNeverLeakASlot() async throws {
        let limits = ConnectionLimits(maxTotal: 0, maxPerAddress: 0, maxPending: 0, maxPendingPerAddress: 0)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<2_000 {
                guard let ticket = try? limits.admit("a\(index % 7)", pool: .pending) else { continue }
                group.addTask { try? ticket.promote() }
                group.addTask { ticket.release() }
            }
        }
        #expect(limits.open() == 0 && limits.pending() == 0)
    }

    @Test func rateLimiterRefillsAndNamesTheWait() {
        let limiter = RateLimiter(rate: 10, burst: 20)
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(limiter.take(20, key: "a", now: start) == nil)
        let wait = limiter.take(5, key: "a", now: start)
        #expect(wait == 0.5)
        #expect(limiter.take(5, key: "b", now: start) == nil)  // another producer is unaffected
        #expect(limiter.take(5, key: "a", now: start.addingTimeInterval(0.5)) == nil)
        let refused = limiter.check(30, key: "a", now: start.addingTimeInterval(0.5))
        #expect(refused?.0.code == .rateLimited)
        #expect(refused?.retryAfter == 2)  // larger than the burst: wait for a full bucket
        #expect(RateLimiter(rate: 0, burst: 0).take(1_000_000, key: "a") == nil)
    }

    @Test func rateLimiterMemoryIsBounded() {
        let limiter = RateLimiter(rate: 1_000, burst: 1_000, maxKeys: 100)
        let start = Date(timeIntervalSince1970: 1_000)
        for index in 0..<1_000 {
            _ = limiter.take(1, key: "k\(index)", now: start.addingTimeInterval(Double(index)))
        }
        // Full (idle) buckets were dropped; the last key still limits.
        #expect(limiter.take(1_000, key: "k999", now: start.addingTimeInterval(999)) != nil)
    }

    @Test func refusalsAreLoggedOncePerClientAndReasonPerMinute() {
        let log = RefusalLog(interval: 60)
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(log.shouldLog(client: "a", reason: "rate_limited", now: start))
        #expect(!log.shouldLog(client: "a", reason: "rate_limited", now: start.addingTimeInterval(59)))
        #expect(log.shouldLog(client: "a", reason: "too_large", now: start.addingTimeInterval(1)))
        #expect(log.shouldLog(client: "b", reason: "rate_limited", now: start.addingTimeInterval(1)))
        #expect(log.shouldLog(client: "a", reason: "rate_limited", now: start.addingTimeInterval(61)))
    }

    @Test func tooManyTopicsIsRefusedAndCounted() async throws {
        var configuration = RelayConfiguration()
        configuration.admission.maxTopicsPerClient = 2
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration)
        try await relay.start()
        let error = await #expect(throws: RelayError.self) {
            _ = try await relay.subscribe(Hello(topics: ["a", "b", "c"]), transport: "test", remote: "10.0.0.1:1")
        }
        #expect(error?.code == .tooManyTopics)
        #expect(relay.counters.refused["too_many_topics"] == 1)
        let session = try await relay.subscribe(Hello(topics: ["a", "b"]), transport: "test", remote: "10.0.0.1:1")
        session.close(reason: "test")
    }
}
