import Foundation
import Synchronization
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// The client's retry schedule, outbound buffer and state file, against real relays (or a port
/// nothing listens on). Waits are injected, so no test sleeps through a backoff.
@Suite("TetherClient reconnects")
struct TetherClientReconnectTests {
    /// A port that refused connections a moment ago: a relay's, after it stopped.
    static func closedPort() async throws -> Int {
        let relay = try await RelayProcess.start()
        let port = relay.port
        await relay.terminate()
        return port
    }

    @Test func backoffFollowsThePolicyThenFails() async throws {
        let port = try await Self.closedPort()
        let slept = Mutex<[Duration]>([])
        var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(port)/v1/ws")
        configuration.backoff = BackoffPolicy(initialDelay: .seconds(1), multiplier: 2, maxDelay: .seconds(5), maxAttempts: 5, jitter: 0.5)
        configuration.random = { 0.5 }
        configuration.sleep = { duration in slept.withLock { $0.append(duration) } }
        let client = try TetherClient(configuration: configuration)
        let states = Task { await Array(client.states) }
        await client.run()
        // Each delay is min(5 s, 1 s × 2^(n−1)), shortened by jitter × random = 25 %.
        #expect(slept.withLock { $0 } == [0.75, 1.5, 3, 3.75, 3.75].map { Duration.milliseconds(Int64($0 * 1000)) })
        #expect(await states.value == [.connecting, .disconnected, .reconnecting, .failed])
        #expect(await client.lastError?.contains("gave up after 5") == true)
    }

    @Test func jitterNeverExceedsTheCapNorGoesBelowItsFraction() {
        let policy = BackoffPolicy()
        for attempt in 1...12 {
            let ceiling = policy.delay(attempt: attempt, random: 0)
            for random in stride(from: 0.0, to: 1.0, by: 0.1) {
                let delay = policy.delay(attempt: attempt, random: random)
                #expect(delay <= ceiling && delay <= .seconds(30))
                #expect(delay >= ceiling / 2)
            }
        }
    }

    @Test func publishesWhileOfflineAreFlushedInOrderOnConnect() async throws {
        let port = try await Self.closedPort()
        var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(port)/v1/ws")
        configuration.backoff = BackoffPolicy(maxAttempts: 10_000)
        configuration.sleep = { _ in try await Task.sleep(for: .milliseconds(20)) }
        configuration.outboundBufferLimit = 5
        let client = try TetherClient(configuration: configuration)
        let runner = Task { await client.run() }
        var publishes: [Task<UInt64, any Error>] = []
        for n in 0..<5 {
            publishes.append(Task { try await client.publish(topic: "offline", data: Array("{\"n\":\(n)}".utf8)) })
            let deadline = Date().addingTimeInterval(10)
            while await client.metrics.pendingPublishes < n + 1, Date() < deadline { try await Task.sleep(for: .milliseconds(2)) }
        }
        await #expect(throws: TetherClientError.self) { try await client.publish(topic: "offline", data: Array("6".utf8)) }

        let relay = try await RelayProcess.start(arguments: ["--listen", "127.0.0.1:\(port)"])
        var seqs: [UInt64] = []
        for publish in publishes { seqs.append(try await publish.value) }
        #expect(seqs == [1, 2, 3, 4, 5])
        let read = try await relay.http("GET", "/v1/events?after=0")
        let events = try #require((try HTTP.json(read.body) as? [String: Any])?["events"] as? [[String: Any]])
        #expect(events.compactMap { ($0["data"] as? [String: Any])?["n"] as? Int } == [0, 1, 2, 3, 4])
        await client.stop()
        await runner.value
        await relay.terminate()
    }

    @Test func stateFileKeepsIdentityAndAcknowledgedPosition() async throws {
        let relay = try await RelayProcess.start()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tether-state-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(relay.port)/v1/ws")
        configuration.stateFile = path
        configuration.clientID = "kept"
        configuration.autoAck = true
        let client = try TetherClient(configuration: configuration)
        let runner = Task { await client.run() }
        let consumer = Task { () -> [UInt64] in
            var seqs: [UInt64] = []
            for await item in client.events {
                if case .event(let event) = item { seqs.append(event.seq) }
                if seqs.count == 3 { return seqs }
            }
            return seqs
        }
        let deadline = Date().addingTimeInterval(20)
        while await client.metrics.state != .connected, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        _ = try await relay.http("POST", "/v1/events", body: Data(#"[{"topic":"a","data":1},{"topic":"a","data":2},{"topic":"a","data":3}]"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(await consumer.value == [1, 2, 3])
        await client.stop()
        await runner.value
        let saved = try ResumeState.load(from: path)
        #expect(saved.clientID == "kept")
        #expect(saved.resumeToken?.isEmpty == false)
        #expect(saved.epoch?.count == 16)
        #expect(saved.lastSequence == 3)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        await relay.terminate()
    }
}
