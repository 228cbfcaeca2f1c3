import Foundation
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// Network faults between subscribers and the relay, through ``FaultProxy`` on 127.0.0.1: delay,
/// connections dropped mid-frame, a blackhole (held until every client dialled again, at least 3 s and at most 20 s, not
/// the 30 s, to keep CI short),
/// a bandwidth cap; and the relay stopped with SIGSTOP. Every subscriber (``TetherClient``, which
/// reconnects and resumes by itself) ends with every event, in order, no duplicate.
@Suite("Network faults", .serialized)
struct NetworkFaultTests {
    static func clientConfiguration(_ url: String) -> TetherClientConfiguration {
        var configuration = TetherClientConfiguration(url: url)
        configuration.heartbeatInterval = .milliseconds(250)
        configuration.staleTimeout = .seconds(1)
        configuration.backoff = BackoffPolicy(initialDelay: .milliseconds(50), multiplier: 2, maxDelay: .milliseconds(500), maxAttempts: 10_000, jitter: 0.5)
        return configuration
    }

    /// Publishes `count` events, 10 per request; returns `count`.
    static func publish(_ relay: RelayProcess, _ count: Int, after start: Int) async throws -> Int {
        for batch in 0..<(count / 10) {
            try await relay.publish(10, start: start + batch * 10)
        }
        return count
    }

    @Test func subscribersThroughDelayBandwidthCapAndMidFrameDropsEndWithEveryEventInOrder() async throws {
        try await Self.runFaults([.delay(milliseconds: 100), .bandwidth(bytesPerSecond: 2_048)], drops: 3)
    }

    /// Through a blackhole each client gives up on its dead connection after its stale timeout
    /// (without waiting for the relay to answer its close frame), dials again while the network
    /// is still down, and resumes exactly once it is back.
    @Test func subscribersThroughABlackholeEndWithEveryEventInOrder() async throws {
        try await Self.runFaults([.blackhole], drops: 0)
    }

    static func runFaults(_ faults: [FaultProxy.Fault], drops: Int) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let proxy = try FaultProxy(targetPort: relay.port)
        defer { proxy.stop() }
        let url = "ws://127.0.0.1:\(proxy.port)/v1/ws"
        var clients: [(TetherClient, EventRecorder, Task<Void, Never>)] = []
        for _ in 0..<3 {
            var configuration = Self.clientConfiguration(url)
            configuration.history = 0
            let client = try TetherClient(configuration: configuration)
            let recorder = EventRecorder.start(client)
            let runner = Task { await client.run() }
            try await recorder.wait("welcome") { !$0.isEmpty }
            clients.append((client, recorder, runner))
        }

        // Events are published straight to the relay (not through the proxy), 10 per request.
        var published = 0
        published += try await Self.publish(relay, 30, after: published)
        for fault in faults {
            proxy.set(fault)
            published += try await Self.publish(relay, 50, after: published)
            if fault == .blackhole {
                // Held until every client has given up on its dead connection and dialled again
                // (bounded at 20 s; a client that waited for the relay to answer its close frame
                // would never dial during the blackhole), and for at least 3 s.
                let started = Date()
                while Date().timeIntervalSince(started) < 20,
                    proxy.counts.accepted < 2 * clients.count || Date().timeIntervalSince(started) < 3 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(proxy.counts.accepted >= 2 * clients.count, "clients kept waiting on connections the blackhole killed: \(proxy.counts)")
            }
            proxy.set(.none)
            published += try await Self.publish(relay, 20, after: published)
        }
        // Connections dropped mid-frame, three times while events flow.
        for _ in 0..<drops {
            // Cut live connections: wait (bounded) until every client is connected again.
            for _ in 0..<1_000 where proxy.connectionCount < clients.count {
                try await Task.sleep(for: .milliseconds(10))
            }
            let start = published
            let batch = Task { try await Self.publish(relay, 50, after: start) }
            try await Task.sleep(for: .milliseconds(20))
            proxy.dropAll()
            published += try await batch.value
        }
        published += try await Self.publish(relay, 20, after: published)

        for (client, recorder, runner) in clients {
            let waited = try? await recorder.wait(timeout: 20, "all \(published) events") { $0.seqs.count >= published }
            let recorded = await recorder.items
            let items = waited ?? recorded
            let metrics = await client.metrics
            let lastError = await client.lastError ?? "none"
            let counts = proxy.counts
            print("fault test: state \(metrics.state), reconnects \(metrics.reconnects), last error \(lastError), proxy \(counts), got \(items.seqs.count) of \(published)")
            #expect(items.seqs.count == published, "state \(metrics.state), reconnects \(metrics.reconnects), last error \(lastError), proxy \(counts)")
            #expect(items.seqs == (1...UInt64(published)).map { $0 }, "in order, no gap, no duplicate")
            #expect(items.gaps.isEmpty)
            // Several drops can land in one reconnect cycle, so only "it did reconnect" is certain.
            #expect(drops == 0 || metrics.reconnects >= 1)
            await client.stop()
            await runner.value
        }
        if drops > 0 { #expect(proxy.counts.cut >= drops * clients.count) }
        #expect(await relay.terminate() == 0)
    }

    @Test func aStoppedRelayIsSeenStaleThenResumedExactly() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let client = try TetherClient(configuration: Self.clientConfiguration(relay.webSocketURL))
        let states = StateRecorder.start(client)
        let recorder = EventRecorder.start(client)
        let runner = Task { await client.run() }
        try await recorder.wait("welcome") { !$0.isEmpty }
        try await relay.publish(20)
        try await recorder.wait("20 events") { $0.seqs.count >= 20 }

        relay.signal(SIGSTOP)
        // The client notices the silence (its stale timeout is 1 s here) and says so.
        var sawStale = false
        for _ in 0..<1_000 where !sawStale {
            sawStale = await client.lastError?.contains("no traffic from the relay") == true
            if !sawStale { try await Task.sleep(for: .milliseconds(10)) }
        }
        let seenStates = await states.states
        #expect(sawStale, "states \(seenStates)")
        relay.signal(SIGCONT)
        try await relay.publish(30, start: 20)
        let items = try await recorder.wait(timeout: 20, "50 events after SIGCONT") { $0.seqs.count >= 50 }
        #expect(items.seqs == Array(1...50))
        #expect(items.gaps.isEmpty)
        await client.stop()
        await runner.value
        #expect(await relay.terminate() == 0)
    }
}

/// Records a client's connection states, to wait for one with a deadline.
actor StateRecorder {
    private(set) var states: [ConnectionState] = []

    static func start(_ client: TetherClient) -> StateRecorder {
        let recorder = StateRecorder()
        Task {
            for await state in client.states { await recorder.append(state) }
        }
        return recorder
    }

    private func append(_ state: ConnectionState) { states.append(state) }

    func wait(timeout: Double = 30, _ what: String, until done: ([ConnectionState]) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !done(states) {
            guard Date() < deadline else { throw RawSocketError("\(what): not seen within \(timeout) s; states \(states)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
