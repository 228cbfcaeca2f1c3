import Foundation
import PostgresStore
import Testing
import TetherCore
import TetherTesting

/// Several relays over one PostgreSQL log: real `tether serve` processes for the HTTP surface,
/// in-process relays (each with its own store and ``LogFollower``) for subscribers.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct SharedRelayTests {
    static func relayEnvironment(_ url: String) -> [String: String] {
        ["TETHER_STORE_POSTGRES_URL": url, "TETHER_STORE_POSTGRES_TIMEOUT": "10", "TETHER_STORE_POSTGRES_POOL_SIZE": "4", "TETHER_SWEEP_INTERVAL": "0.5"]
    }

    static func startRelay(_ url: String) async throws -> RelayProcess {
        try await RelayProcess.start(arguments: ["--store", "postgres"], environment: relayEnvironment(url))
    }

    /// Every event a relay's `GET /v1/events` pages through, as `(seq, data)`.
    static func history(of relay: RelayProcess) async throws -> [(seq: UInt64, data: String)] {
        var all: [(UInt64, String)] = []
        var after: UInt64 = 0
        for _ in 0..<1000 {
            let (status, body) = try await relay.http("GET", "/v1/events?after=\(after)&limit=500")
            guard status == 200, let page = try HTTP.json(body) as? [String: Any], let events = page["events"] as? [[String: Any]] else {
                throw RelayProcessError("GET /v1/events answered \(status): \(String(decoding: body, as: UTF8.self))")
            }
            guard !events.isEmpty else { break }
            for event in events {
                let seq = (event["seq"] as? NSNumber)?.uint64Value ?? 0
                let data = try JSONSerialization.data(withJSONObject: event["data"] ?? NSNull(), options: [.fragmentsAllowed, .sortedKeys])
                all.append((seq, String(decoding: data, as: UTF8.self)))
            }
            after = all.last!.0
        }
        return all
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass.
    static func eventually(_ seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RelayProcessError("timed out after \(seconds) s waiting for: \(what)")
    }

    static func publish(_ relay: RelayProcess, _ objects: [String]) async throws -> (Int, [UInt64]) {
        let (status, body) = try await relay.http("POST", "/v1/events", body: Data("[\(objects.joined(separator: ","))]".utf8), headers: ["Content-Type": "application/json"])
        let accepted = ((try? HTTP.json(body)) as? [String: Any])?["accepted"] as? [NSNumber] ?? []
        return (status, accepted.map(\.uint64Value))
    }

    @Test func twoRelaysShowOneStrictlyIncreasingLogWithoutGapsOrDuplicates() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("two_relays_\(getpid())")
        let a = try await Self.startRelay(url)
        let b = try await Self.startRelay(url)
        let producers = 4
        let requests = 25
        let perRequest = 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    for n in 0..<requests {
                        let relay = (producer + n) % 2 == 0 ? a : b
                        let objects = (0..<perRequest).map { #"{"topic":"p\#(producer)","data":{"p":\#(producer),"n":\#(n * perRequest + $0)}}"# }
                        let (status, seqs) = try await Self.publish(relay, objects)
                        #expect(status == 202)
                        #expect(seqs.count == perRequest && zip(seqs, seqs.dropFirst()).allSatisfy { $0 + 1 == $1 })
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = UInt64(producers * requests * perRequest)
        var logs: [[(seq: UInt64, data: String)]] = []
        try await Self.eventually(30, "both relays hold all \(total) events") {
            logs = try await [Self.history(of: a), Self.history(of: b)]
            return logs.allSatisfy { $0.count == Int(total) }
        }
        for log in logs {
            #expect(log.map(\.seq) == Array(1...total))
            #expect(Set(log.map(\.data)).count == Int(total), "no event is stored twice")
        }
        #expect(logs[0].map(\.data) == logs[1].map(\.data), "both relays show the same log")
        await a.terminate()
        await b.terminate()
    }

    /// A relay in this process over the shared database, with its follower running (unless
    /// `following` is `false`: a relay that stalled, which the test catches up by hand).
    struct LocalRelay {
        let relay: Relay
        let follower: Task<Void, any Error>?

        init(
            url: String, timeout: Duration = PostgresBufferStoreTests.testTimeout, following: Bool = true,
            configure: (inout RelayConfiguration) -> Void = { _ in }
        ) async throws {
            var configuration = RelayConfiguration()
            configuration.sweepInterval = 0.5
            configure(&configuration)
            var storeConfiguration = try PostgresBufferStore.Configuration(url: url)
            storeConfiguration.operationTimeout = timeout
            storeConfiguration.poolSize = 4
            let store = PostgresBufferStore(configuration: storeConfiguration)
            relay = Relay(store: store, configuration: configuration)
            try await relay.start()
            let relay = self.relay
            follower = following ? Task { try await LogFollower(relay: relay, store: store).run() } : nil
        }

        /// Stops the follower and closes the store, as a relay's shutdown does; a shutdown that
        /// does not end within 30 s is recorded as this test's failure, not a hung run.
        func stop() async {
            let (follower, store) = (self.follower, relay.store)
            do {
                try await withDeadline(30, "the relay's follower and store stopping") {
                    follower?.cancel()
                    _ = await follower?.result
                    try? await store.close()
                }
            } catch {
                Issue.record(error)
            }
        }
    }

    /// Receives from `session` until `count` events arrived (or 30 s passed), acking as it goes.
    static func receive(_ count: Int, from session: Session) async throws -> [Event] {
        var received: [Event] = []
        var buffer: [Event] = []
        let deadline = Date().addingTimeInterval(30)
        while received.count < count, Date() < deadline {
            buffer.removeAll(keepingCapacity: true)
            let interruption = try await session.next(into: &buffer, within: 30)
            #expect(interruption == nil)
            received += buffer
            if let last = buffer.last { try session.ack(last.seq) }
        }
        return received
    }

    @Test func aSubscriberOnOneRelaySeesEventsPublishedThroughAnother() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("fanout_\(getpid())")
        let local = try await LocalRelay(url: url)
        let b = try await Self.startRelay(url)
        let session = try await local.relay.subscribe(Hello(), transport: "test", remote: "test")
        for n in 0..<10 {
            let (status, _) = try await Self.publish(b, (0..<5).map { #"{"topic":"t","data":\#(n * 5 + $0)}"# })
            #expect(status == 202)
        }
        let events = try await Self.receive(50, from: session)
        #expect(events.map(\.seq) == Array(1...50))
        #expect(events.map { String(decoding: $0.data, as: UTF8.self) } == (0..<50).map { "\($0)" })
        await b.terminate()
        await local.stop()
    }

    @Test func aClientResumesOnAnotherRelayWithItsSecretAndGetsExactlyTheMissedEvents() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("resume_\(getpid())")
        let a = try await LocalRelay(url: url)
        let b = try await LocalRelay(url: url)
        let first = try await a.relay.subscribe(Hello(), transport: "test", remote: "test")
        let token = try #require(first.welcome.resumeToken)
        _ = try await a.relay.publish(BufferStoreConformance.drafts(5))
        let before = try await Self.receive(5, from: first)
        #expect(before.map(\.seq) == [1, 2, 3, 4, 5])
        first.close(reason: "test disconnects")
        await a.relay.sweep()  // saves the client's cursor (acked 5) to PostgreSQL
        _ = try await b.relay.publish(BufferStoreConformance.drafts(4, start: 5))

        // Without its secret the id is refused on B, although B never saw this client.
        await #expect(throws: RelayError.self) {
            _ = try await b.relay.subscribe(Hello(clientID: first.clientID), transport: "test", remote: "test")
        }
        let resumed = try await b.relay.subscribe(Hello(clientID: first.clientID, resumeToken: token), transport: "test", remote: "test")
        #expect(resumed.welcome.resumed)
        #expect(resumed.welcome.replayCount == 4)
        let missed = try await Self.receive(4, from: resumed)
        #expect(missed.map(\.seq) == [6, 7, 8, 9])
        await a.stop()
        await b.stop()
    }
}
