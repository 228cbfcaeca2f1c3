import Foundation
import Synchronization
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// Three `tether serve --store postgres` processes over one PostgreSQL, as an operator runs them
/// behind a load balancer: concurrent producers, a relay killed with SIGKILL mid-publish, a
/// PostgreSQL restart, then a resume on each relay. Every accepted event reaches a subscriber
/// once, in order, with no gap it was not told about.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct ThreeRelayTests {
    /// A `TetherClient` subscriber (acking, with a state file) and what it received.
    final class Reader: Sendable {
        final class Received: Sendable {
            let seqs = Mutex<[UInt64]>([])
            let gaps = Mutex<[Gap]>([])
        }

        let client: TetherClient
        let runner: Task<Void, Never>
        let collector: Task<Void, Never>
        let received = Received()
        var seqs: [UInt64] { received.seqs.withLock { $0 } }
        var gaps: [Gap] { received.gaps.withLock { $0 } }

        init(port: Int, stateFile: String) throws {
            var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(port)/v1/ws")
            configuration.clientID = "reader"
            configuration.stateFile = stateFile
            configuration.autoAck = true
            configuration.backoff = BackoffPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(1), maxAttempts: 10_000)
            let client = try TetherClient(configuration: configuration)
            self.client = client
            runner = Task { await client.run() }
            let received = self.received
            collector = Task {
                for await item in client.events {
                    switch item {
                    case .event(let event): received.seqs.withLock { $0.append(event.seq) }
                    case .gap(let gap): received.gaps.withLock { $0.append(gap) }
                    default: break
                    }
                }
            }
        }

        func connected(_ what: String) async throws {
            try await SharedRelayTests.eventually(30, what) { await self.client.metrics.state == .connected }
        }

        /// Stops the client and waits (30 s at most) for its run loop to end.
        func stop() async throws {
            let (client, runner) = (self.client, self.runner)
            defer { collector.cancel() }
            try await withDeadline(30, "the reader's client stopping") {
                await client.stop()
                await runner.value
            }
        }
    }

    /// The relays now running (one is replaced during the test), for the producers.
    final class Relays: Sendable {
        let list = Mutex<[RelayProcess]>([])
    }

    /// Publishes one event with producer id `id` on `relays[first]`, and on the next relay when
    /// that one does not answer or answers 503 (the same id: a retry never duplicates).
    static func publishAnywhere(_ relays: Relays, first: Int, id: String, deadline: Date) async throws -> UInt64 {
        var attempt = first
        var last = "no answer"
        while Date() < deadline {
            let relay = relays.list.withLock { $0[attempt % $0.count] }
            attempt += 1
            if let (status, seqs) = try? await SharedRelayTests.publish(relay, [#"{"topic":"t","id":"\#(id)","data":"\#(id)"}"#]) {
                if status == 202, let seq = seqs.first { return seq }
                last = "\(status)"
            }
            try await Task.sleep(for: .milliseconds(30))
        }
        throw RelayProcessError("event \(id) was not accepted before the deadline (last answer: \(last))")
    }

    @Test func threeRelaysSurviveASIGKILLAndAPostgresRestartWithEveryAcceptedEventOnceInOrder() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let url = try cluster.createDatabase("three")
        let relays = Relays()
        for _ in 0..<3 {
            let relay = try await SharedRelayTests.startRelay(url)
            relays.list.withLock { $0.append(relay) }
        }
        let (a, b, c) = relays.list.withLock { ($0[0], $0[1], $0[2]) }
        let directory = try temporaryDirectory(prefix: "three-relays")
        let stateFile = directory.appendingPathComponent("reader.json").path
        let reader = try Reader(port: c.port, stateFile: stateFile)
        try await reader.connected("the reader is connected to relay C")

        let accepted = AcceptedEvents()
        let perProducer = 50
        let deadline = Date().addingTimeInterval(90)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<3 {
                group.addTask {
                    for n in 0..<perProducer {
                        let id = "p\(producer)-\(n)"
                        let seq = try await Self.publishAnywhere(relays, first: producer, id: id, deadline: deadline)
                        accepted.ids.withLock { $0[id] = seq }
                    }
                }
            }
            group.addTask {
                try await SharedRelayTests.eventually(60, "a third of the events accepted") { accepted.ids.withLock { $0.count } >= perProducer }
                _ = await b.killHard()
                try await SharedRelayTests.eventually(60, "two thirds of the events accepted") { accepted.ids.withLock { $0.count } >= 2 * perProducer }
                try cluster.restart()
            }
            try await group.waitForAll()
        }
        let expected = accepted.ids.withLock { $0 }
        #expect(Set(expected.values).count == expected.count, "every accepted event has its own seq")
        let head = try #require(expected.values.max())

        // The log on a surviving relay: exactly the accepted events, each once, 1...head.
        var log: [(seq: UInt64, data: String)] = []
        try await SharedRelayTests.eventually(30, "relay A holds the log up to \(head)") {
            log = try await SharedRelayTests.history(of: a)
            return log.last?.seq ?? 0 >= head
        }
        #expect(log.map(\.seq) == Array(1...head))
        #expect(Dictionary(log.map { ($0.seq, $0.data) }, uniquingKeysWith: { first, _ in first }) == Dictionary(expected.map { ($0.value, "\"\($0.key)\"") }, uniquingKeysWith: { first, _ in first }))

        // The reader on relay C, through both faults: every event once, in order, no gap.
        try await SharedRelayTests.eventually(60, "the reader received up to \(head)") { reader.seqs.last ?? 0 >= head }
        #expect(reader.seqs == Array(1...head))
        #expect(reader.gaps.isEmpty)
        try await reader.stop()

        // The killed relay is replaced; the reader resumes on each relay in turn, each time after
        // events were published through another one, and gets exactly what it missed.
        let replacement = try await SharedRelayTests.startRelay(url)
        relays.list.withLock { $0[1] = replacement }
        var newest = head
        for index in 0..<3 {
            var missed: [UInt64] = []
            for n in 0..<5 {
                let seq = try await Self.publishAnywhere(relays, first: index + 1, id: "resume\(index)-\(n)", deadline: Date().addingTimeInterval(30))
                missed.append(seq)
            }
            let relay = relays.list.withLock { $0[index] }
            let resumed = try Reader(port: relay.port, stateFile: stateFile)
            try await SharedRelayTests.eventually(30, "the reader resumed on relay \(index) and got seq \(missed.last!)") {
                resumed.seqs.last ?? 0 >= missed.last!
            }
            let got = resumed.seqs
            #expect(got.filter { $0 > newest } == missed, "exactly the missed events, in order, on relay \(index)")
            #expect(zip(got, got.dropFirst()).allSatisfy { $0 < $1 }, "nothing twice")
            #expect(resumed.gaps.isEmpty)
            newest = missed.last!
            try await resumed.stop()
        }
        for relay in relays.list.withLock({ $0 }) { await relay.terminate() }
    }
}
