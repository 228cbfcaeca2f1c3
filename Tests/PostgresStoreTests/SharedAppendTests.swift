import Foundation
import PostgresStore
import Synchronization
import Testing
import TetherCore
import TetherTesting

/// Appends from several stores over one log now commit without holding the head counter while the
/// disk flushes (docs/OPERATIONS.md, *How the relays share the log*). What readers and producers
/// must still be able to count on: sequence order as commit order, no seq shown before it is on
/// disk, one stored event per producer id, and nothing left unseen by a relay that died between
/// its commit and its flush.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct SharedAppendTests {
    static func store(_ url: String) throws -> PostgresBufferStore {
        var configuration = try PostgresBufferStore.Configuration(url: url)
        configuration.poolSize = 4
        configuration.operationTimeout = PostgresBufferStoreTests.testTimeout
        return PostgresBufferStore(configuration: configuration)
    }

    static func drafts(_ ids: [String]) -> [EventDraft] {
        ids.map { EventDraft(topic: "t", data: Array("\"\($0)\"".utf8), producerID: $0) }
    }

    /// Three writers append concurrently, each batch half its own ids and half ids all three send
    /// at once; a fourth store reads as they go. Every page the reader gets starts right after
    /// what it had and has no hole (a later seq never shows before an earlier one), every shared
    /// id is stored once and all three writers are told the same seq for it.
    @Test func concurrentAppendsReachAReaderInSequenceOrderAndStoreEachProducerIDOnce() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("shared_append_\(getpid())")
        let writers = try (0..<3).map { _ in try Self.store(url) }
        let reader = try Self.store(url)
        for store in writers + [reader] { _ = try await store.open() }
        let rounds = 40
        let deadline = ContinuousClock.now + .seconds(90)
        let progress = Progress()

        async let seen = Task { () throws -> [(seq: UInt64, id: String?)] in
            var seen: [(seq: UInt64, id: String?)] = []
            while ContinuousClock.now < deadline {
                let finished = progress.done.load(ordering: .acquiring) == writers.count
                let head = finished ? try await reader.state().head : 0
                let page = try await reader.read(after: seen.last?.seq ?? 0, limit: 500)
                if let first = page.first {
                    #expect(first.seq == (seen.last?.seq ?? 0) + 1, "a reader at \(seen.last?.seq ?? 0) was shown \(first.seq) first")
                    #expect(zip(page, page.dropFirst()).allSatisfy { $0.seq + 1 == $1.seq }, "a page without holes")
                    seen += page.map { ($0.seq, $0.producerID) }
                } else if finished, seen.last?.seq ?? 0 >= head {
                    return seen
                } else {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            throw RelayProcessError("the reader did not reach the head before the deadline (at \(seen.last?.seq ?? 0))")
        }.value

        let told = try await withThrowingTaskGroup(of: [String: UInt64].self) { group in
            for (index, store) in writers.enumerated() {
                group.addTask {
                    defer { progress.done.add(1, ordering: .releasing) }
                    var told: [String: UInt64] = [:]
                    for round in 0..<rounds {
                        let ids = (0..<10).map { "w\(index)-\(round)-\($0)" } + (0..<10).map { "shared-\(round)-\($0)" }
                        let sequences = try await store.append(Self.drafts(ids)).sequences
                        for (id, seq) in zip(ids, sequences) { told[id] = seq }
                    }
                    return told
                }
            }
            return try await group.reduce(into: [[String: UInt64]]()) { $0.append($1) }
        }
        let log = try await seen
        let total = 3 * rounds * 10 + rounds * 10
        #expect(log.map { $0.seq } == Array(1...UInt64(total)), "every event once, gap-free")
        let stored = Dictionary(log.compactMap { entry in entry.id.map { ($0, entry.seq) } }, uniquingKeysWith: { first, _ in first })
        #expect(stored.count == log.count, "no producer id stored twice")
        for round in 0..<rounds {
            for n in 0..<10 {
                let id = "shared-\(round)-\(n)"
                #expect(Set(told.map { $0[id] }) == [stored[id]], "all writers were told the stored seq of \(id)")
            }
        }
        for (index, mine) in told.enumerated() {
            for (id, seq) in mine where id.hasPrefix("w") { #expect(stored[id] == seq, "writer \(index)'s \(id) is where it was told") }
        }
        for store in writers + [reader] { try await store.close() }
    }

    /// A relay that committed a batch and died before its flush (done here by hand, with the
    /// same statements and `synchronous_commit` off) leaves no hole and nothing stuck: another
    /// relay's read returns the batch, having made it durable first, so it survives a crash of
    /// PostgreSQL right after it was shown. Runs on its own cluster, since it crashes it.
    @Test func aBatchCommittedByARelayThatDiedBeforeItsFlushIsShownOnlyOnceOnDisk() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("died_before_flush")
        let writer = try Self.store(url)
        _ = try await writer.open()
        #expect(try await writer.append(Self.drafts(["a", "b", "c"])).sequences == [1, 2, 3])
        let reader = try Self.store(url)
        _ = try await reader.open()
        #expect(try await reader.read(after: 3, limit: 10).isEmpty)

        try cluster.psql(
            """
            BEGIN;
            SET LOCAL synchronous_commit TO off;
            SELECT head FROM tether_log WHERE id = 1 FOR UPDATE;
            INSERT INTO tether_events (seq, topic, time, data, producer_id, bytes)
                VALUES (4, 't', extract(epoch FROM now()), convert_to('"ghost"', 'UTF8'), 'ghost', 64);
            UPDATE tether_log SET head = 4, depth_events = depth_events + 1, depth_bytes = depth_bytes + 64 WHERE id = 1;
            COMMIT;
            """,
            database: "died_before_flush"
        )
        let shown = try await reader.read(after: 3, limit: 10)
        #expect(shown.map(\.seq) == [4])
        #expect(shown.first?.producerID == "ghost")
        try await writer.close()
        try await reader.close()

        try cluster.crash()
        try cluster.resume()
        let after = try Self.store(url)
        #expect(try await after.open().head == 4)
        #expect(try await after.read(after: 0, limit: 10).map(\.producerID) == ["a", "b", "c", "ghost"], "what a reader was shown survives the crash")
        // The next append carries on after it: nothing was handed out twice.
        #expect(try await after.append(Self.drafts(["d", "ghost"])).sequences == [5, 4])
        try await after.close()
    }

    /// PostgreSQL crashes (immediate stop: what it had not written is gone) while three writers
    /// append and a reader reads. Afterwards every event the reader was shown is still in the log
    /// under the same seq, every event a writer was told is accepted is there once, and the log has
    /// no gap. Writers retry a failed batch with the same producer ids, as producers should.
    @Test func aCrashOfPostgreSQLTakesBackNothingAReaderWasShownOrAWriterWasTold() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("crash")
        let writers = try (0..<3).map { _ in try Self.store(url) }
        let reader = try Self.store(url)
        for store in writers + [reader] { _ = try await store.open() }
        let deadline = ContinuousClock.now + .seconds(120)
        let progress = Progress()

        let reading = Task {
            var after: UInt64 = 0
            while !progress.stop.load(ordering: .acquiring), ContinuousClock.now < deadline {
                guard let page = try? await reader.read(after: after, limit: 200), let last = page.last else {
                    try? await Task.sleep(for: .milliseconds(5))
                    continue
                }
                progress.shown.withLock { for event in page { $0[event.seq] = event.producerID } }
                after = last.seq
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, store) in writers.enumerated() {
                group.addTask {
                    var batch = 0
                    while !progress.stop.load(ordering: .acquiring) {
                        let ids = (0..<10).map { "w\(index)-\(batch)-\($0)" }
                        while true {
                            guard ContinuousClock.now < deadline else { throw RelayProcessError("writer \(index) could not append after the crash") }
                            if let sequences = try? await store.append(Self.drafts(ids)).sequences {
                                progress.accepted.withLock { for (id, seq) in zip(ids, sequences) { $0[id] = seq } }
                                break
                            }
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        batch += 1
                    }
                }
            }
            group.addTask {
                while progress.accepted.withLock({ $0.count }) < 300, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                try cluster.crash()
                try cluster.resume()
                let resumed = progress.accepted.withLock { $0.count }
                while progress.accepted.withLock({ $0.count }) < resumed + 300, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                progress.stop.store(true, ordering: .releasing)
            }
            try await group.waitForAll()
        }
        await reading.value
        for store in writers + [reader] { try await store.close() }

        let check = try Self.store(url)
        _ = try await check.open()
        var log: [Event] = []
        while true {
            let page = try await check.read(after: log.last?.seq ?? 0, limit: 1000)
            if page.isEmpty { break }
            log += page
        }
        try await check.close()
        #expect(log.map(\.seq) == Array(1...UInt64(log.count)), "a log without gaps")
        let byID = Dictionary(log.map { ($0.producerID ?? "", $0.seq) }, uniquingKeysWith: { first, _ in first })
        #expect(byID.count == log.count, "no event stored twice")
        for (id, seq) in progress.accepted.withLock({ $0 }) { #expect(byID[id] == seq, "accepted \(id) is at \(seq)") }
        let bySeq = Dictionary(uniqueKeysWithValues: log.map { ($0.seq, $0.producerID ?? "") })
        for (seq, id) in progress.shown.withLock({ $0 }) { #expect(bySeq[seq] == id, "seq \(seq) still holds what the reader was shown") }
    }
}

/// What the writers, the reader and the test body of ``SharedAppendTests`` share.
final class Progress: Sendable {
    let done = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    /// Producer id → the seq its writer was told.
    let accepted = Mutex<[String: UInt64]>([:])
    /// Seq → the producer id of the event the reader was shown there.
    let shown = Mutex<[UInt64: String]>([:])
}
