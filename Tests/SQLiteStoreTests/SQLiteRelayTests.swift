import Foundation
import Synchronization
import Testing
import TetherCore
import TetherTesting
@testable import SQLiteStore

/// An in-process ``Relay`` over the SQLite store: what survives a restart, seen by a client.
@Suite("Relay over the SQLite store")
struct SQLiteRelayTests {
    @Test func clientResumesAcrossRestartWithExactlyTheMissedEvents() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-resume")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path

        let firstStore = SQLiteBufferStore(configuration: .init(path: path))
        let first = Relay(store: firstStore)
        try await first.start()
        _ = try await first.publish(BufferStoreConformance.drafts(5))
        let session = try await first.subscribe(Hello(clientID: "client-a", lastSequence: 0), transport: "test", remote: "local")
        let token = try #require(session.welcome.resumeToken)
        let epoch = session.welcome.epoch
        #expect(try await receive(session, through: 5).map(\.seq) == [1, 2, 3, 4, 5])
        try session.ack(3)
        _ = try await first.publish(BufferStoreConformance.drafts(4, start: 5))  // seqs 6...9, never delivered
        session.close(reason: "test disconnects")
        await first.sweep()  // saves the client's record and cursor, as the health monitor would
        try await firstStore.close()

        let secondStore = SQLiteBufferStore(configuration: .init(path: path))
        let second = Relay(store: secondStore)
        try await second.start()
        #expect(second.logState.epoch == epoch && second.logState.head == 9)

        // Without its secret the restored client id is refused.
        let refused = await #expect(throws: RelayError.self) {
            try await second.subscribe(Hello(clientID: "client-a", epoch: epoch, lastSequence: 3), transport: "test", remote: "local")
        }
        #expect(refused?.code == .resumeRefused)

        let resumed = try await second.subscribe(
            Hello(clientID: "client-a", resumeToken: token, epoch: epoch, lastSequence: 3), transport: "test", remote: "local"
        )
        #expect(resumed.welcome.resumed && !resumed.welcome.plan.reset && resumed.welcome.plan.gap == nil)
        let missed = try await receive(resumed, through: 9)
        #expect(missed.map(\.seq) == [4, 5, 6, 7, 8, 9])
        #expect(missed.map { String(decoding: $0.data, as: UTF8.self) } == (3..<9).map { "{\"n\":\($0)}" })
        // Live events follow the replay without a duplicate at the seam.
        _ = try await second.publish(BufferStoreConformance.drafts(1, start: 9))
        #expect(try await receive(resumed, through: 10).map(\.seq) == [10])
        resumed.close(reason: "done")
        try await secondStore.close()
    }

    @Test func clientWithoutLastSequenceResumesFromItsSavedCursor() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-cursor")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let firstStore = SQLiteBufferStore(configuration: .init(path: path))
        let first = Relay(store: firstStore)
        try await first.start()
        _ = try await first.publish(BufferStoreConformance.drafts(6))
        let session = try await first.subscribe(Hello(clientID: "client-b", lastSequence: 0), transport: "test", remote: "local")
        let token = try #require(session.welcome.resumeToken)
        _ = try await receive(session, through: 6)
        try session.ack(4)
        session.close(reason: "test disconnects")
        await first.sweep()
        try await firstStore.close()

        let secondStore = SQLiteBufferStore(configuration: .init(path: path))
        let second = Relay(store: secondStore)
        try await second.start()
        let resumed = try await second.subscribe(Hello(clientID: "client-b", resumeToken: token), transport: "test", remote: "local")
        #expect(resumed.welcome.plan.startAfter == 4)
        #expect(try await receive(resumed, through: 6).map(\.seq) == [5, 6])
        resumed.close(reason: "done")
        try await secondStore.close()
    }

    @Test func retentionUnderLoadKeepsTheDatabaseBounded() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-bounded")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let retention = RetentionPolicy(ttl: 3600, maxEvents: 2000, maxBytes: 1 << 30)
        let store = SQLiteBufferStore(configuration: .init(path: path, retention: retention, trimChunk: 500))
        var configuration = RelayConfiguration()
        configuration.retention = retention
        let relay = Relay(store: store, configuration: configuration)
        try await relay.start()
        let payload = String(repeating: "p", count: 300)
        var sizes: [Int] = []
        // 40 rounds x 8 producers x 10 requests x 25 events = 80,000 events through a 2,000-event cap.
        for round in 0..<40 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for producer in 0..<8 {
                    group.addTask {
                        for request in 0..<10 {
                            let drafts = (0..<25).map { index in
                                EventDraft(topic: "load", data: Array("{\"r\":\(round),\"p\":\(producer),\"q\":\(request),\"i\":\(index),\"pad\":\"\(payload)\"}".utf8))
                            }
                            _ = try await relay.publish(drafts)
                        }
                    }
                }
                try await group.waitForAll()
            }
            await relay.sweep()
            sizes.append(Self.fileSize(path) + Self.fileSize(path + "-wal"))
        }
        let state = try await store.state()
        #expect(state.head == 80_000)
        #expect(state.depthEvents == 2000 && state.oldest == 78_001)
        let rows = try await store.database().read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") }
        #expect(rows == 2000)
        // Freed pages are reused: after the warm-up the files stop growing.
        let warm = sizes[9]
        #expect(sizes.suffix(20).allSatisfy { $0 <= warm + (1 << 20) }, "database + WAL sizes by round: \(sizes)")
        #expect(sizes.last! < 16 << 20, "database + WAL sizes by round: \(sizes)")
        try await store.close()
        #expect(Self.fileSize(path) < 4 << 20, "after the closing checkpoint the file holds about 2000 events")
    }

    /// A connected client answering the relay's pings: its record is saved when its `lastSeen`
    /// has moved a save interval (a tenth of the record TTL, 30 s by default) past the saved one,
    /// not at every sweep after a ping; and what a restart after a crash reads back is never more
    /// than that interval old.
    @Test func pingsMoveTheSavedLastSeenOncePerSaveIntervalNotPerSweep() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-last-seen")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        let store = SQLiteBufferStore(configuration: .init(path: path))
        let clock = TestClock()
        let relay = Relay(store: store, now: clock.source)
        #expect(ClientRecord.lastSeenSaveInterval(recordTTL: relay.configuration.clientRecordTTL) == 30)
        try await relay.start()
        let attachedAt = clock.now
        let session = try await relay.subscribe(Hello(clientID: "pinged"), transport: "test", remote: "local")
        await relay.sweep()
        var saved = try await store.loadClient("pinged")
        #expect(saved?.lastSeen == attachedAt)

        // Pings every 10 s: the first two leave the saved record alone (nothing but the time moved).
        for _ in 0..<2 {
            clock.advance(by: 10)
            session.recordPing(roundTrip: 0.002)
            await relay.sweep()
            saved = try await store.loadClient("pinged")
            #expect(saved?.lastSeen == attachedAt, "saved again \((saved?.lastSeen.timeIntervalSince(attachedAt)).map { "\($0)" } ?? "-") s after attach")
        }
        // The third is 30 s past the saved time: saved.
        clock.advance(by: 10)
        session.recordPing(roundTrip: 0.002)
        await relay.sweep()
        saved = try await store.loadClient("pinged")
        #expect(saved?.lastSeen == clock.now)

        // Traffic from the client (no ping answered) counts the same way, through the sweep.
        let pingedAt = clock.now
        clock.advance(by: 20)
        session.touch()
        await relay.sweep()
        #expect(try await store.loadClient("pinged")?.lastSeen == pingedAt)
        clock.advance(by: 15)
        session.touch()
        await relay.sweep()
        #expect(try await store.loadClient("pinged")?.lastSeen == clock.now)

        // A clean stop saves the exact time the client left.
        clock.advance(by: 5)
        session.close(reason: "test disconnects")
        await relay.sweep()
        #expect(try await store.loadClient("pinged")?.lastSeen == clock.now)
        try await store.close()
    }

    /// A clean stop (the relay's service group stopping, as on SIGTERM) saves what changed since
    /// the last health sweep: the cursor a client acknowledged and the time it left. Before, the
    /// store kept the previous sweep's copy, so a client resuming from its saved cursor got
    /// events it had acknowledged again.
    @Test func aCleanStopSavesTheAcknowledgementsAndDisconnectsSinceTheLastSweep() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-clean-stop")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tether.sqlite").path
        var configuration = RelayConfiguration()
        configuration.sweepInterval = 3600  // only the sweep at start runs
        let clock = TestClock()
        let relay = Relay(store: SQLiteBufferStore(configuration: .init(path: path)), configuration: configuration, now: clock.source)
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "leaving"), transport: "test", remote: "local")
        try await withRelayServices(relay) {
            // After the sweep at start has taken what it saves: nothing below is in it.
            try await withDeadline(10, "the health monitor's first sweep") {
                while relay.healthStatus.lastProof == nil { try await Task.sleep(for: .milliseconds(5)) }
            }
            _ = try await relay.publish(BufferStoreConformance.drafts(5))
            #expect(try await receive(session, through: 5).count == 5)
            try session.ack(4)
            clock.advance(by: 2)
            session.close(reason: "test disconnects")
        }

        let reopened = SQLiteBufferStore(configuration: .init(path: path))
        _ = try await reopened.open()
        let saved = try #require(try await reopened.loadClient("leaving"))
        #expect(saved.ackedSeq == 4)
        #expect(saved.lastSeen == clock.now)
        try await reopened.close()
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// Events from `session` until one with `seq >= last` arrives (failing after 20 s).
func receive(_ session: Session, through last: UInt64) async throws -> [Event] {
    try await withThrowingTaskGroup(of: [Event].self) { group in
        group.addTask {
            var received: [Event] = []
            var buffer: [Event] = []
            while (received.last?.seq ?? 0) < last {
                buffer.removeAll(keepingCapacity: true)
                if let interruption = try await session.next(into: &buffer, within: 30) {
                    Issue.record("unexpected \(interruption)")
                }
                received += buffer
            }
            return received
        }
        group.addTask {
            try await Task.sleep(for: .seconds(20))
            throw RelayProcessError("no event \(last) within 20 s")
        }
        let received = try await group.next()!
        group.cancelAll()
        return received
    }
}

/// A full database with subscribers attached: their changing cursors must not keep the health
/// sweep from trimming, or the space that would let writes resume is never freed.
@Suite("Relay over a full SQLite store")
struct SQLiteFullStoreTests {
    final class Clock: Sendable {
        private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: Double) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    @Test func sweepTrimsAndWritesResumeWhileSubscribersAck() async throws {
        let directory = try temporaryDirectory(prefix: "sqlite-full-relay")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = Clock()
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(ttl: 60, maxEvents: 1_000_000, maxBytes: 1 << 40)
        configuration.clientRecordTTL = 3600
        let store = SQLiteBufferStore(configuration: .init(
            path: directory.appendingPathComponent("tether.sqlite").path, retention: configuration.retention, maxPages: 40
        ))
        let relay = Relay(store: store, configuration: configuration, now: { clock.now })
        try await relay.start()
        let pad = String(repeating: "q", count: 300)
        let sessions = try await withThrowingTaskGroup(of: Session.self) { group in
            for index in 0..<20 {
                group.addTask { try await relay.subscribe(Hello(clientID: "sub-\(index)"), transport: "test", remote: "local") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var accepted: UInt64 = 0
        var refused: RelayError?
        for request in 0..<1000 {
            do {
                let drafts = (0..<10).map { EventDraft(topic: "t", data: Array("{\"r\":\(request),\"i\":\($0),\"pad\":\"\(pad)\"}".utf8), time: clock.now) }
                accepted = try await relay.publish(drafts).last!
            } catch {
                refused = error
                break
            }
        }
        #expect(refused?.code == .storeUnavailable, "40 pages never filled up")
        #expect(relay.healthStatus.lastError?.contains("is full") == true)
        // Every subscriber acknowledges what it got, so every client record is dirty.
        for session in sessions {
            var buffer: [Event] = []
            _ = try await session.next(into: &buffer, within: 30)
            if let last = buffer.last?.seq { try session.ack(last) }
        }
        clock.advance(120)
        await relay.sweep()
        let state = try await store.state()
        #expect(state.depthEvents == 0 && state.head == accepted, "the sweep trimmed the expired events: \(state)")
        let next = try await relay.publish([EventDraft(topic: "t", data: Array("1".utf8), time: clock.now)])
        #expect(next == [accepted + 1])
        #expect(relay.healthStatus.lastError == nil)
        await relay.sweep()
        #expect(relay.healthStatus.lastError == nil, "client records are saved once there is room")
        for session in sessions { session.close(reason: "done") }
        try await store.close()
    }
}
