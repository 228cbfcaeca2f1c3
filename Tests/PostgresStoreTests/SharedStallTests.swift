import Foundation
import PostgresStore
import Synchronization
import Testing
import TetherCore
import TetherTesting

/// A relay that stalls, and a PostgreSQL that restarts, under relays sharing one log (issue 18,
/// findings 4 and 5): appends fail at once while the connection is gone and work again as soon as
/// PostgreSQL does; a relay's own stall is no reason for a gap; a 503 that may have committed
/// says so.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct SharedStallTests {
    typealias LocalRelay = SharedRelayTests.LocalRelay

    /// Relay A stops following the log (as under SIGSTOP or a slow store) while B commits far more
    /// than the lag cap; when A catches up, its subscriber that was keeping up receives every
    /// event, with no `lag_cap` gap: the events are still in the log.
    @Test func aSubscriberOfARelayThatStalledCatchesUpWithoutALagCapGap() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("stall_\(getpid())")
        let a = try await LocalRelay(url: url, following: false) { $0.lagCap = 100 }
        let b = try await LocalRelay(url: url)
        let session = try await a.relay.subscribe(Hello(), transport: "test", remote: "test")
        // The subscriber waits for events (it is keeping up) while A stands still.
        let receiving = Task { try await Self.receiveReportingGaps(2500, from: session) }
        for batch in 0..<25 {
            _ = try await b.relay.publish(BufferStoreConformance.drafts(100, start: batch * 100))
        }
        #expect(a.relay.logState.head == 0, "relay A has not followed the log yet")
        let head = try await b.relay.store.state().head
        #expect(try await a.relay.fanOut.catchUp(to: head) == 2500)
        let (events, gaps) = try await receiving.value
        #expect(gaps.isEmpty, "no gap while the events are retained: \(gaps)")
        #expect(events.map(\.seq) == Array(1...2500))
        #expect(a.relay.counters.dropped(.lagCap) == 0)
        await a.stop()
        await b.stop()
    }

    /// A subscriber that is slow itself (its unacknowledged window is full) still gets a
    /// `lag_cap` gap: the rule above is no way around the lag cap.
    @Test func aSubscriberThatIsSlowItselfStillGetsALagCapGap() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("slow_\(getpid())")
        let a = try await LocalRelay(url: url) {
            $0.lagCap = 100
            $0.window = 16
        }
        let session = try await a.relay.subscribe(Hello(), transport: "test", remote: "test")
        _ = try await a.relay.publish(BufferStoreConformance.drafts(10))
        var buffer: [Event] = []
        _ = try await session.next(into: &buffer, within: 30)
        _ = try await a.relay.publish(BufferStoreConformance.drafts(100, start: 10))
        while buffer.count < 16 { _ = try await session.next(into: &buffer, within: 30) }
        // The window is full and the client does not acknowledge: its writer waits.
        let writer = Task {
            var more: [Event] = []
            return (try await session.next(into: &more, within: 30), more)
        }
        for batch in 0..<4 {
            _ = try await a.relay.publish(BufferStoreConformance.drafts(100, start: 110 + batch * 100))
        }
        try session.ack(buffer.last!.seq)
        var (interruption, more) = try await writer.value
        var gap: Gap?
        for _ in 0..<40 {
            if case .gap(let found) = interruption {
                gap = found
                break
            }
            if let last = more.last { try session.ack(last.seq) }
            more.removeAll()
            interruption = try await session.next(into: &more, within: 30)
        }
        #expect(gap?.reason == .lagCap, "a slow client is owed at most the lag cap")
        await a.stop()
    }

    /// Receives `count` events (acking as it goes) and every gap on the way, within 60 s.
    static func receiveReportingGaps(_ count: Int, from session: Session) async throws -> ([Event], [Gap]) {
        var received: [Event] = []
        var gaps: [Gap] = []
        var buffer: [Event] = []
        let deadline = Date().addingTimeInterval(60)
        while received.count + gaps.reduce(0, { $0 + Int($1.count) }) < count, Date() < deadline {
            buffer.removeAll(keepingCapacity: true)
            if case .gap(let gap) = try await session.next(into: &buffer, within: 30) { gaps.append(gap) }
            received += buffer
            if let last = buffer.last { try session.ack(last.seq) }
        }
        return (received, gaps)
    }

    /// `pg_ctl restart -m fast`, five times, under producers on three relays: no publish waits out
    /// the operation timeout (postgres-nio was seen to leave a query on a connection the server
    /// closed waiting for ever; the relay answered nothing for exactly `store.postgres.timeout`),
    /// and every relay accepts publishes again after each restart.
    @Test func publishesDuringFastRestartsFailAtOnceInsteadOfWaitingOutTheTimeout() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("restarts")
        var environment = SharedRelayTests.relayEnvironment(url)
        environment["TETHER_STORE_POSTGRES_TIMEOUT"] = "5"
        var relays: [RelayProcess] = []
        for _ in 0..<3 { relays.append(try await RelayProcess.start(arguments: ["--store", "postgres"], environment: environment)) }
        let tally = RestartTally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, relay) in relays.enumerated() {
                for producer in 0..<2 {
                    group.addTask {
                        let deadline = Date().addingTimeInterval(120)
                        var n = 0
                        while Date() < deadline, tally.restartsDone.load(ordering: .relaxed) < 5 || tally.acceptedAfterLastRestart.load(ordering: .relaxed) < 60 {
                            n += 1
                            let body = Data(#"{"topic":"t","id":"r\#(index)-\#(producer)-\#(n)","data":\#(n)}"#.utf8)
                            guard let (status, reply) = try? await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": "application/json"]) else { continue }
                            if status == 202 { tally.accepted.add(1, ordering: .relaxed) }
                            if status == 202, tally.restartsDone.load(ordering: .relaxed) == 5 { tally.acceptedAfterLastRestart.add(1, ordering: .relaxed) }
                            if status != 202 { tally.refusals.withLock { $0.append("\(status) \(String(decoding: reply, as: UTF8.self))") } }
                        }
                    }
                }
            }
            group.addTask {
                for _ in 0..<5 {
                    // Producers are under way between restarts: 30 more accepted each time.
                    let before = tally.accepted.load(ordering: .relaxed)
                    try await SharedRelayTests.eventually(60, "30 more publishes accepted") { tally.accepted.load(ordering: .relaxed) >= before + 30 }
                    try cluster.restart()
                    tally.restartsDone.add(1, ordering: .relaxed)
                }
            }
            try await group.waitForAll()
        }
        #expect(tally.acceptedAfterLastRestart.load(ordering: .relaxed) >= 60, "the relays accept publishes after the restarts")
        let all = tally.refusals.withLock { $0 }
        #expect(all.allSatisfy { $0.hasPrefix("503") }, "a publish during a restart answers 503: \(all.prefix(3))")
        let waitedOut = all.filter { $0.contains("did not finish within") }
        #expect(waitedOut.isEmpty, "no publish waited out the timeout: \(waitedOut.prefix(3))")
        for relay in relays { await relay.terminate() }
    }

    /// OPERATIONS.md, *When PostgreSQL goes away*: after an outage in which a publish was
    /// refused, sweeps that reach the database again do not make the relay ready by themselves;
    /// the first publish that succeeds does (or 15 s after the last refused one).
    @Test func readinessAfterAnOutageWithARefusedPublishWaitsForAPublishToSucceed() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("ready")
        let a = try await LocalRelay(url: url, timeout: .seconds(1))
        try cluster.pause()
        await #expect(throws: RelayError.self) { _ = try await a.relay.publish(BufferStoreConformance.drafts(1)) }
        await a.relay.sweep()
        #expect(a.relay.healthStatus.lastError != nil, "unready during the outage")
        try cluster.resume()
        try await SharedRelayTests.eventually(60, "a sweep reaches PostgreSQL again") {
            guard (try? await a.relay.store.state()) != nil else { return false }
            await a.relay.sweep()
            return true
        }
        #expect(a.relay.healthStatus.lastError != nil, "still unready: no publish has proved that writes work")
        try await SharedRelayTests.eventually(60, "a publish succeeds") {
            (try? await a.relay.publish(BufferStoreConformance.drafts(1, start: 1))) != nil
        }
        await a.relay.sweep()
        #expect(a.relay.healthStatus.lastError == nil, "ready after the first successful publish")
        await a.stop()
    }

    /// An append the server refused before its COMMIT stored nothing, and is reported so (the
    /// journal line names the cause, not a dump of postgres-nio's error types).
    @Test func anAppendRefusedBeforeItsCommitSaysNothingWasStored() async throws {
        let cluster = try await PostgresCluster.shared()
        let name = "refused_\(getpid())"
        let url = try cluster.createDatabase(name)
        let a = try await LocalRelay(url: url)
        _ = try cluster.psql("ALTER TABLE tether_events ADD CONSTRAINT refuse_all CHECK (seq < 0) NOT VALID", database: name)
        await #expect {
            _ = try await a.relay.publish([EventDraft(topic: "t", data: Array("1".utf8), producerID: "refused-1")])
        } throws: { error in
            guard let error = error as? RelayError, error.code == .storeUnavailable else { return false }
            return error.message.contains("nothing from this request was stored") && error.message.contains("refuse_all")
                && !error.message.contains("PostgresTransactionError")
        }
        #expect(try await a.relay.store.state().head == 0)
        await a.stop()
    }

    /// An append whose transaction was running when the timeout struck may still commit; the
    /// producer and the journal are told "may have been stored", and it did get stored.
    @Test func anAppendThatTimesOutWhileRunningSaysItMayHaveBeenStored() async throws {
        let cluster = try await PostgresCluster.shared()
        let name = "maybe_\(getpid())"
        let url = try cluster.createDatabase(name)
        let a = try await LocalRelay(url: url, timeout: .seconds(1))
        // Another session holds the head counter for 1.6 s: the append waits on the row lock past the
        // 1 s operation timeout, but less than the 2 s `statement_timeout`, so it commits afterwards.
        let holder = Task.detached {
            try cluster.psql("BEGIN; SELECT 1 FROM tether_log FOR UPDATE; SELECT pg_sleep(1.6); COMMIT;", database: name)
        }
        try await SharedRelayTests.eventually(30, "the row lock is held") {
            let held = try cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.6)%' AND state = 'active' AND pid <> pg_backend_pid()", database: name)
            return held.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
        }
        await #expect {
            _ = try await a.relay.publish([EventDraft(topic: "t", data: Array("1".utf8), producerID: "maybe-1")])
        } throws: { error in
            guard let error = error as? RelayError, error.code == .storeUnavailable else { return false }
            return error.message.contains("may have been stored") && !error.message.contains("nothing from this request was stored")
        }
        _ = try await holder.value
        try await SharedRelayTests.eventually(30, "the timed-out append committed after all") {
            try await a.relay.store.state().head == 1
        }
        await a.stop()
    }
}

/// What the producers of the restart test saw, shared by their tasks.
final class RestartTally: Sendable {
    let refusals = Mutex<[String]>([])
    let acceptedAfterLastRestart = Atomic<Int>(0)
    let restartsDone = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
}
