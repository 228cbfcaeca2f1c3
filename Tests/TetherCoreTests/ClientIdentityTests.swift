import MemoryStore
import Synchronization
import Testing
import TetherTesting
@testable import TetherCore

/// Client ids under contention and at scale: one binding per id, one rule for every name, and a
/// bounded table of records.
@Suite struct ClientIdentityTests {
    /// Two first hellos for one new id: the second runs to completion inside the first one's
    /// replay read, so the first reaches the bind after the id was taken. Exactly one binds it.
    @Test func ofTwoFirstHellosForOneIdExactlyOneBinds() async throws {
        var configuration = RelayConfiguration()
        configuration.recentEvents = 1  // the history count below reads the store
        let store = RacingStore(base: MemoryBufferStore())
        let relay = Relay(store: store, configuration: configuration)
        try await relay.start()
        _ = try await relay.publish((0..<20).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })

        let second = Mutex<Result<Session, RelayError>?>(nil)
        store.interfere {
            let result: Result<Session, RelayError>
            do throws(RelayError) {
                result = .success(try await relay.subscribe(Hello(clientID: "contested", resumeToken: "token-b"), transport: "sse", remote: "b"))
            } catch {
                result = .failure(error)
            }
            second.withLock { $0 = result }
            return []
        }
        await #expect(throws: RelayError.self) {
            _ = try await relay.subscribe(Hello(clientID: "contested", resumeToken: "token-a", history: 10, topics: ["t"]), transport: "websocket", remote: "a")
        }
        #expect(store.settle().ran, "the race was not forced")
        let winner = try #require(try second.withLock { $0 }?.get())
        #expect(winner.endReason == nil, "the first binder must not be superseded by the loser")
        #expect(relay.stats().clients.count == 1 && relay.stats().clients[0].transport == "sse")
        // The id is bound to the winner's secret, and only to it.
        await #expect(throws: RelayError.self) {
            _ = try await relay.subscribe(Hello(clientID: "contested", resumeToken: "token-a", lastSequence: 0), transport: "websocket", remote: "a")
        }
        let resumed = try await relay.subscribe(Hello(clientID: "contested", resumeToken: "token-b", lastSequence: 20), transport: "sse", remote: "b")
        #expect(resumed.welcome.resumed)
    }

    /// The same client racing itself (same secret) supersedes, as a reconnect does.
    @Test func aHelloThatLostTheRaceWithItsOwnSecretSupersedes() async throws {
        var configuration = RelayConfiguration()
        configuration.recentEvents = 1
        let store = RacingStore(base: MemoryBufferStore())
        let relay = Relay(store: store, configuration: configuration)
        try await relay.start()
        _ = try await relay.publish((0..<20).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        let first = Mutex<Session?>(nil)
        store.interfere {
            let session = try? await relay.subscribe(Hello(clientID: "mine", resumeToken: "same"), transport: "websocket", remote: "a")
            first.withLock { $0 = session }
            return []
        }
        let later = try await relay.subscribe(Hello(clientID: "mine", resumeToken: "same", history: 5, topics: ["t"]), transport: "websocket", remote: "a")
        #expect(first.withLock { $0 }?.endReason?.code == .superseded)
        #expect(later.endReason == nil)
    }

    @Test(arguments: ["", "a\nINJECTED level=error", "tab\there", "bell\u{07}", "del\u{7F}", "c1\u{85}", "line\u{2028}sep", String(repeating: "x", count: 257)])
    func everyTransportsHelloNamesFollowOneRule(name: String) async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let topicRefused = name.isEmpty || name.utf8.count > NameRule.maxBytes  // topics: size only
        for hello in [Hello(clientID: name), Hello(resumeToken: name)] + (topicRefused ? [Hello(topics: [name])] : []) {
            do {
                _ = try await relay.subscribe(hello, transport: "sse", remote: "x")
                Issue.record("a hello with \(name.debugDescription) was accepted")
            } catch {
                #expect(error.code == .invalidName)
            }
        }
        #expect(relay.stats().clients.isEmpty, "a refused hello must leave no record")
    }

    @Test func theRecordTableEvictsTheLongestDisconnectedFirstAndNeverAnAttachedClient() async throws {
        let clock = TestClock()
        var configuration = RelayConfiguration()
        configuration.admission.maxClientRecords = 200
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration, now: clock.source)
        try await relay.start()
        let attached = try await relay.subscribe(Hello(clientID: "attached"), transport: "websocket", remote: "x")
        for n in 0..<199 {
            let session = try await relay.subscribe(Hello(clientID: "gone-\(n)"), transport: "websocket", remote: "x")
            clock.advance(by: 1)
            session.close(reason: "test")
        }
        #expect(relay.stats().clients.count == 200)
        // A new id past the cap: the oldest disconnected go (a batch of 1 %), nobody attached.
        _ = try await relay.subscribe(Hello(clientID: "newcomer"), transport: "websocket", remote: "x")
        let ids = Set(relay.stats().clients.map(\.id))
        #expect(ids.count <= 200)
        #expect(ids.contains("attached") && ids.contains("newcomer") && ids.contains("gone-198"))
        #expect(!ids.contains("gone-0") && !ids.contains("gone-1"))
        #expect(relay.counters.clientRecordsEvicted.load(ordering: .relaxed) == 2)
        #expect(attached.endReason == nil)
        // An evicted id is free again, and a durable store is told to forget it at the sweep.
        let again = try await relay.subscribe(Hello(clientID: "gone-0"), transport: "websocket", remote: "y")
        #expect(again.welcome.resumeToken != nil && !again.welcome.resumed)
        let swept = relay.sweepClients(now: clock.now)
        #expect(swept.forgotten.contains("gone-1"))
        #expect(!swept.forgotten.contains("gone-0"), "an evicted id claimed anew must not be deleted from a durable store")
        // 10,000 more new ids: the table stays at the cap.
        for n in 0..<10_000 {
            try await relay.subscribe(Hello(clientID: "churn-\(n)"), transport: "websocket", remote: "x").close(reason: "test")
        }
        #expect(relay.stats().clients.count <= 200)
    }
}
