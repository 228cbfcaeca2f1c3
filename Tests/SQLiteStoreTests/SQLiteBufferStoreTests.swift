import Configuration
import Foundation
import GRDB
import Testing
import TetherCore
import TetherTesting
@testable import SQLiteStore

/// The store against real SQLite files in temporary directories.
@Suite("SQLite buffer store")
struct SQLiteBufferStoreTests {
    @Test(arguments: BufferStoreConformance.Check.allCases)
    func conformsToTheBufferStoreContract(_ check: BufferStoreConformance.Check) async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-conformance")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await BufferStoreConformance.run(check) { retention in
            SQLiteBufferStore(configuration: .init(path: directory.appendingPathComponent("tether.sqlite").path, retention: retention))
        }
    }

    /// Invariant 2 over real SQLite files: trims that race reads never make a silent skip.
    @Test func continuityModelFindsNoUndeclaredHole() async throws {
        var total = ContinuityModel.Report()
        for seed in UInt64(0)..<200 {
            let directory = try temporaryDirectory(prefix: "sqlite-continuity")
            defer { try? FileManager.default.removeItem(at: directory) }
            total += try await ContinuityModel.run(seed: seed, steps: 150) { retention in
                SQLiteBufferStore(configuration: .init(path: directory.appendingPathComponent("tether.sqlite").path, retention: retention))
            }
        }
        #expect(total.racedReads > 100 && total.gaps > 100, "raced \(total.racedReads), gaps \(total.gaps)")
    }

    @Test func epochHeadEventsTrimsAndClientsSurviveReopen() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-reopen")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let policy = RetentionPolicy(ttl: 60, maxEvents: 1000, maxBytes: 1 << 30)

        let first = SQLiteBufferStore(configuration: .init(path: path, retention: policy))
        let created = try await first.open()
        let old = (0..<3).map { EventDraft(topic: "t", data: Array("{\"old\":\($0)}".utf8), producerID: "old-\($0)", time: base) }
        let fresh = (0..<4).map { EventDraft(topic: "u", data: Array("{\"new\":\($0)}".utf8), producerID: "new-\($0)", time: base.addingTimeInterval(100)) }
        _ = try await first.append(old + fresh)
        _ = try await first.trim(policy, now: base.addingTimeInterval(90))
        let client = PersistedClient(
            id: "client-a", secretDigest: String(repeating: "ab", count: 32), epoch: created.epoch.rawValue, ackedSeq: 5,
            firstSeen: base, lastSeen: base.addingTimeInterval(10), reconnects: 2, delivered: .max, acked: 5, transport: "ws"
        )
        try await first.saveClients([client, PersistedClient(
            id: "client-b", secretDigest: "00", epoch: created.epoch.rawValue, ackedSeq: 0, firstSeen: base, lastSeen: base,
            reconnects: 0, delivered: 0, acked: 0, transport: "sse"
        )])
        try await first.deleteClients(["client-b"])
        let before = try await first.state()
        let eventsBefore = try await first.read(after: 0, limit: 100)
        try await first.close()

        let second = SQLiteBufferStore(configuration: .init(path: path, retention: policy))
        let reopened = try await second.open()
        #expect(reopened == before)
        #expect(reopened.epoch == created.epoch)
        #expect(reopened.head == 7 && reopened.oldest == 4 && reopened.depthEvents == 4)
        #expect(reopened.trims.reason(for: 3) == .ttl)
        #expect(try await second.read(after: 0, limit: 100) == eventsBefore)
        #expect(try await second.loadClients() == [client])

        // Sequencing continues after the old head, and producer ids still deduplicate.
        let next = try await second.append([
            EventDraft(topic: "t", data: Array("1".utf8), producerID: "new-0"),
            EventDraft(topic: "t", data: Array("2".utf8)),
        ])
        #expect(next.sequences == [4, 8])
        try await second.close()
    }

    @Test func commitsAreFullySynchronousByDefault() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-sync")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (mode, expected) in [(SQLiteBufferStore.Configuration.Synchronous.full, 2), (.normal, 1)] {
            let store = SQLiteBufferStore(
                configuration: .init(path: directory.appendingPathComponent("\(mode).sqlite").path, synchronous: mode)
            )
            _ = try await store.open()
            let (synchronous, journal) = try await store.database().writeWithoutTransaction { db in
                (try Int.fetchOne(db, sql: "PRAGMA synchronous"), try String.fetchOne(db, sql: "PRAGMA journal_mode"))
            }
            #expect(synchronous == expected, "synchronous for \(mode)")
            #expect(journal == "wal")
            try await store.close()
        }
    }

    @Test func startUpReadsMetaNotTheLog() async throws {
        // A database whose meta row disagrees with its rows shows that open() trusts the meta
        // row (O(1)) rather than counting the log.
        let directory = try temporaryDirectory(prefix: "sqlite-meta")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let store = SQLiteBufferStore(configuration: .init(path: path))
        _ = try await store.open()
        _ = try await store.append(BufferStoreConformance.drafts(50))
        try await store.close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "UPDATE meta SET depth_bytes = 12345") }
        try queue.close()
        let reopened = SQLiteBufferStore(configuration: .init(path: path))
        let state = try await reopened.open()
        #expect(state.depthBytes == 12345 && state.head == 50 && state.oldest == 1)
        try await reopened.close()
    }

    @Test func corruptFileFailsOpenNamingTheFileAndIsLeftUntouched() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-corrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let garbage = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let store = SQLiteBufferStore(configuration: .init(path: path))
        let error = await #expect(throws: SQLiteStoreError.self) { try await store.open() }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains(path) == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func damagedPagesFailTheQuickCheck() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-damaged")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let store = SQLiteBufferStore(configuration: .init(path: path))
        _ = try await store.open()
        _ = try await store.append((0..<2000).map { EventDraft(topic: "t", data: Array("{\"n\":\($0),\"pad\":\"\(String(repeating: "x", count: 200))\"}".utf8)) })
        try await store.close()
        // Overwrite a stretch of pages past the header: the file still opens, its b-trees do not add up.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 4096 * 3)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096 * 4))
        try handle.close()
        let reopened = SQLiteBufferStore(configuration: .init(path: path))
        let error = await #expect(throws: SQLiteStoreError.self) { try await reopened.open() }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains(path) == true)
    }

    @Test func aDatabaseOfAnotherApplicationIsRefused() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-foreign")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        try queue.close()
        let error = await #expect(throws: SQLiteStoreError.self) {
            try await SQLiteBufferStore(configuration: .init(path: path)).open()
        }
        #expect(error?.kind == .notATetherLog)
    }

    @Test func trimsInBoundedChunksAndRecordsWhy() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-trim")
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = Date(timeIntervalSince1970: 1_800_000_000)
        let store = SQLiteBufferStore(configuration: .init(
            path: directory.appendingPathComponent("tether.sqlite").path,
            retention: RetentionPolicy(ttl: 3600, maxEvents: 100_000, maxBytes: 1 << 30), trimChunk: 100
        ))
        _ = try await store.open()
        let expired = (0..<1050).map { EventDraft(topic: "t", data: Array("\($0)".utf8), time: base) }
        let kept = (0..<500).map { EventDraft(topic: "t", data: Array("\($0)".utf8), time: base.addingTimeInterval(1000)) }
        _ = try await store.append(expired + kept)
        let outcome = try await store.trim(RetentionPolicy(ttl: 60, maxEvents: 300, maxBytes: 1 << 30), now: base.addingTimeInterval(1030))
        #expect(outcome.removedEvents == 1050 + 200)
        #expect(outcome.log.oldest == 1251 && outcome.log.depthEvents == 300 && outcome.log.head == 1550)
        #expect(outcome.log.trims.reason(for: 1) == .ttl && outcome.log.trims.reason(for: 1050) == .ttl)
        #expect(outcome.log.trims.reason(for: 1051) == .evicted && outcome.log.trims.reason(for: 1250) == .evicted)
        #expect(try await store.read(after: 0, limit: 1).first?.seq == 1251)
        try await store.close()
    }

    @Test func configurationKeysAreReadAndCheckedFromTheStoreSlice() throws {
        let config = ConfigReader(provider: InMemoryProvider(values: [
            "synchronous": "normal", "max-pages": "5000", "trim-chunk": "500", "check-on-open": "none",
        ]))
        let configuration = try SQLiteBufferStore.Configuration(reading: config, path: "/x/tether.sqlite")
        #expect(configuration.synchronous == .normal && configuration.maxPages == 5000)
        #expect(configuration.trimChunk == 500 && !configuration.checkOnOpen)
        let defaults = try SQLiteBufferStore.Configuration(reading: ConfigReader(provider: InMemoryProvider(values: [:])), path: "/x")
        #expect(defaults.synchronous == .full && defaults.maxPages == nil && defaults.checkOnOpen)
        let bad = ConfigReader(provider: InMemoryProvider(values: ["synchronous": "off"]))
        let error = #expect(throws: ConfigurationError.self) { try SQLiteBufferStore.Configuration(reading: bad, path: "/x") }
        #expect(error?.message.contains("store.sqlite.synchronous") == true)
    }
}
