import Foundation
import Synchronization
import Testing
import TetherTesting

/// PostgreSQL going away under two relays: a restart mid-stream, then an outage long enough to
/// watch. Runs on its own cluster, since it restarts it.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct PostgresOutageTests {
    /// Publishes one event with producer id `id`, retrying the same request (idempotent) until a
    /// 202 or the deadline. Returns the accepted seq.
    static func publishUntilAccepted(_ relay: RelayProcess, id: String, deadline: Date) async throws -> UInt64 {
        var last = "no answer"
        while Date() < deadline {
            if let (status, seqs) = try? await SharedRelayTests.publish(relay, [#"{"topic":"t","id":"\#(id)","data":"\#(id)"}"#]) {
                if status == 202, let seq = seqs.first { return seq }
                #expect(status == 503, "a publish during the outage answers 503, got \(status)")
                last = "\(status)"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RelayProcessError("event \(id) was not accepted before the deadline (last answer: \(last)); relay log:\n\(relay.log.suffix(3000))")
    }

    static func ready(_ relay: RelayProcess) async -> (Bool, String) {
        guard let (status, body) = try? await relay.http("GET", "/readyz") else { return (false, "no answer") }
        return (status == 200, String(decoding: body, as: UTF8.self))
    }

    @Test func relaysRecoverFromARestartAndAnOutageWithoutLosingOrDuplicatingAcceptedEvents() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("outage")
        let a = try await SharedRelayTests.startRelay(url)
        let b = try await SharedRelayTests.startRelay(url)
        let accepted = AcceptedEvents()
        let deadline = Date().addingTimeInterval(120)
        let perProducer = 60

        // Two producers publish to both relays; PostgreSQL restarts once a third is accepted.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<2 {
                group.addTask {
                    for n in 0..<perProducer {
                        let id = "p\(producer)-\(n)"
                        let seq = try await Self.publishUntilAccepted(n % 2 == 0 ? a : b, id: id, deadline: deadline)
                        accepted.ids.withLock { $0[id] = seq }
                    }
                }
            }
            group.addTask {
                try await SharedRelayTests.eventually(60, "a third of the events accepted") { accepted.ids.withLock { $0.count } >= 2 * perProducer / 3 }
                try cluster.restart()
            }
            try await group.waitForAll()
        }

        // An outage long enough to observe: producers hear 503 and /readyz says why.
        try cluster.pause()
        try await SharedRelayTests.eventually(30, "relay A reports not ready") { await !Self.ready(a).0 }
        let (_, reason) = await Self.ready(a)
        #expect(reason.contains("store"), "readyz names the store: \(reason)")
        let (status, body) = try await a.http("POST", "/v1/events", body: Data(#"{"topic":"t","id":"down","data":0}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(status == 503)
        #expect(String(decoding: body, as: UTF8.self).contains("store_unavailable"))
        try cluster.resume()
        try await SharedRelayTests.eventually(60, "both relays ready again") {
            let (readyA, readyB) = await (Self.ready(a), Self.ready(b))
            return readyA.0 && readyB.0
        }
        let after = try await Self.publishUntilAccepted(b, id: "after", deadline: Date().addingTimeInterval(30))
        accepted.ids.withLock { $0["after"] = after }

        let expected = accepted.ids.withLock { $0 }
        let head = try #require(expected.values.max())
        for relay in [a, b] {
            var log: [(seq: UInt64, data: String)] = []
            try await SharedRelayTests.eventually(30, "relay holds the log up to \(head)") {
                log = try await SharedRelayTests.history(of: relay)
                return log.last?.seq ?? 0 >= head
            }
            #expect(zip(log, log.dropFirst()).allSatisfy { $0.seq + 1 == $1.seq }, "no gap in the shared log")
            let bySeq = Dictionary(log.map { ($0.seq, $0.data) }, uniquingKeysWith: { first, _ in first })
            for (id, seq) in expected {
                #expect(bySeq[seq] == "\"\(id)\"", "accepted event \(id) at seq \(seq) is in the log")
            }
            let ids = log.map(\.data)
            #expect(Set(ids).count == ids.count, "no event stored twice")
        }
        #expect(a.log.contains("lost PostgreSQL") || b.log.contains("lost PostgreSQL"), "the journal says what happened")
        await a.terminate()
        await b.terminate()
    }
}

/// What producers were told was accepted: producer id → seq.
final class AcceptedEvents: Sendable {
    let ids = Mutex<[String: UInt64]>([:])
}
