import MemoryStore
import ServiceLifecycle
import Testing
import TetherTesting
@testable import TetherCore

/// The publish drainer as a service of the relay's group: publishes are answered while it runs,
/// every producer still waiting when the group stops is answered, and once the group returned the
/// relay refuses publishes and no drainer of it runs.
@Suite struct PublishDrainerTests {
    @Test func concurrentPublishesAreAcceptedWhileTheDrainerRunsAsAService() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let all = try await withRelayServices(relay) {
            try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for producer in 0..<8 {
                    group.addTask {
                        var mine: [UInt64] = []
                        for n in 0..<50 { mine += try await relay.publish(BufferStoreConformance.drafts(1 + n % 3, start: producer * 1000 + n)) }
                        return mine
                    }
                }
                return try await group.reduce(into: [UInt64]()) { $0 += $1 }
            }
        }
        #expect(all.sorted() == Array(1...UInt64(all.count)), "sequences are unique and leave no hole")
        #expect(relay.logState.head == UInt64(all.count))
        let afterwards = await #expect(throws: RelayError.self) { _ = try await relay.publish(BufferStoreConformance.drafts(1)) }
        #expect(afterwards?.code == .storeUnavailable, "a relay whose group stopped takes no publish")
        let (serviceRunning, drainerTasks) = relay.queue.withLock { ($0.serviceRunning, $0.drainerGeneration) }
        #expect(!serviceRunning, "the drainer service's loop ended with the group")
        #expect(drainerTasks == 0, "a relay with its drainer service never starts a drainer task of its own")
    }

    @Test func everyProducerWaitingWhenTheGroupStopsIsAnswered() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let producers = 16
        let running = try await withRelayServices(relay) {
            // Producers publish until they are refused, so some are waiting when the group stops.
            let running = Task {
                await withTaskGroup(of: (Int, Int).self) { group in
                    for producer in 0..<producers {
                        group.addTask {
                            var accepted = 0
                            for n in 0..<100_000 {
                                do throws(RelayError) {
                                    _ = try await relay.publish(BufferStoreConformance.drafts(1, start: producer * 100_000 + n))
                                    accepted += 1
                                } catch {
                                    #expect(error.code == .storeUnavailable, "a producer was refused with \(error)")
                                    return (accepted, 1)
                                }
                            }
                            return (accepted, 0)
                        }
                    }
                    return await group.reduce(into: (0, 0)) { $0 = ($0.0 + $1.0, $0.1 + $1.1) }
                }
            }
            try await withDeadline(30, "1000 events published") { while relay.logState.head < 1000 { await Task.yield() } }
            return running
        }
        let (accepted, refused) = try await withDeadline(30, "every producer answered") { await running.value }
        #expect(refused == producers, "every producer was still publishing when the group stopped, and heard it")
        #expect(relay.logState.head == UInt64(accepted), "the log holds exactly what producers were told was accepted")
    }

    @Test func publishesQueuedBeforeTheDrainerRunsAreStoredOnceItRuns() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        // The group starts its services together: the HTTP server may take a publish before the
        // drainer's `run` began.
        let group = ServiceGroup(services: relay.makeServices(), logger: relay.logger)
        let producers = Task {
            try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for producer in 0..<16 { group.addTask { try await relay.publish(BufferStoreConformance.drafts(1, start: producer)) } }
                return try await group.reduce(into: [UInt64]()) { $0 += $1 }
            }
        }
        try await withDeadline(30, "16 publishes queued") { while relay.queue.withLock({ $0.pending.count }) < 16 { await Task.yield() } }
        #expect(relay.logState.head == 0, "nothing is stored before the drainer runs")
        let running = Task { try await group.run() }
        let sequences = try await withDeadline(30, "every producer answered") { try await producers.value }
        #expect(sequences.sorted() == Array(1...16))
        await group.triggerGracefulShutdown()
        try await withDeadline(30, "the service group stopping") { try await running.value }
    }
}
