import Foundation
import PostgresStore
import ServiceLifecycle
import Synchronization
import Testing
import TetherCore
import TetherTesting

/// The store lives and ends inside the relay's service group: once the group stopped, the
/// relay holds no PostgreSQL connection (its pool and its listener ended with the group), and
/// every producer that was waiting heard an answer.
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct StoreLifetimeTests {
    /// Set when a task ended, so the test waits for it with a bound.
    final class Ended: Sendable {
        let flag = Atomic<Bool>(false)
        var value: Bool { flag.load(ordering: .acquiring) }
        func set() { flag.store(true, ordering: .releasing) }
    }

    @Test func aStoppedRelayHoldsNoPostgresConnectionAndAnsweredEveryProducer() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = "lifetime_\(getpid())"
        let url = try cluster.createDatabase(database)
        var storeConfiguration = try PostgresBufferStore.Configuration(url: url)
        storeConfiguration.operationTimeout = PostgresBufferStoreTests.testTimeout
        storeConfiguration.poolSize = 4
        let store = PostgresBufferStore(configuration: storeConfiguration)
        var configuration = RelayConfiguration()
        configuration.sweepInterval = 0.2
        let relay = Relay(store: store, configuration: configuration)
        try await relay.start()
        // The services RelayServer runs around a shared store, in its order (the server aside).
        let group = ServiceGroup(services: relay.makeServices(), logger: relay.logger)
        let groupEnded = Ended()
        let running = Task {
            defer { groupEnded.set() }
            try await group.run()
        }
        func connections() throws -> Int {
            Int(try cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)'").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        try await SharedRelayTests.eventually(15, "the relay's listener is connected") { try connections() > 0 }

        // Producers still publishing while the group stops: each hears accepted or refused.
        let producersEnded = Ended()
        let producers = Task {
            defer { producersEnded.set() }
            var answers = 0
            for n in 0..<200 {
                do throws(RelayError) {
                    _ = try await relay.publish(BufferStoreConformance.drafts(1, start: n))
                } catch {
                    #expect(error.code == .storeUnavailable, "a producer was refused with \(error)")
                }
                answers += 1
            }
            return answers
        }
        try await SharedRelayTests.eventually(15, "some events were published") { relay.logState.head > 0 }
        await group.triggerGracefulShutdown()
        try await SharedRelayTests.eventually(30, "the service group stopped") { groupEnded.value }
        try await running.value
        try await SharedRelayTests.eventually(30, "every producer was answered") { producersEnded.value }
        #expect(await producers.value == 200)
        try await SharedRelayTests.eventually(10, "no PostgreSQL connection of the relay is left") { try connections() == 0 }
    }
}
