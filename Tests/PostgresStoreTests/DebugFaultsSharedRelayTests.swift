import Foundation
import Synchronization
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// `tether serve --debug-faults` wraps the store so a test can wedge it. Over PostgreSQL the
/// wrapped store must still be what it wraps: a shared log (the relay follows what other relays
/// commit) with a shared client-record authority (an id bound on another relay is not given away).
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct DebugFaultsSharedRelayTests {
    /// A WebSocket subscriber and the sequence numbers it received.
    final class Reader: Sendable {
        let client: TetherClient
        let runner: Task<Void, Never>
        let collector: Task<Void, Never>
        final class Received: Sendable {
            let seqs = Mutex<[UInt64]>([])
            let runnerEnded = Atomic<Bool>(false)
        }
        let received = Received()
        var seqs: [UInt64] { received.seqs.withLock { $0 } }

        init(port: Int, clientID: String) throws {
            var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(port)/v1/ws")
            configuration.clientID = clientID
            configuration.autoAck = true
            configuration.backoff = BackoffPolicy(initialDelay: .milliseconds(100), maxDelay: .seconds(1), maxAttempts: 10_000)
            let client = try TetherClient(configuration: configuration)
            self.client = client
            let received = self.received
            runner = Task {
                await client.run()
                received.runnerEnded.store(true, ordering: .releasing)
            }
            collector = Task {
                for await item in client.events {
                    if case .event(let event) = item { received.seqs.withLock { $0.append(event.seq) } }
                }
            }
        }

        /// Stops the client and waits (30 s at most) for its run loop to end.
        func stop() async throws {
            defer { collector.cancel() }
            await client.stop()
            try await SharedRelayTests.eventually(30, "the reader's client stopping") { received.runnerEnded.load(ordering: .acquiring) }
        }
    }

    /// Two relays over one fresh database, the first with its store wrapped by `--debug-faults`.
    static func startPair(_ name: String) async throws -> (wrapped: RelayProcess, other: RelayProcess) {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("\(name)_\(getpid())")
        let environment = SharedRelayTests.relayEnvironment(url)
        let wrapped = try await RelayProcess.start(arguments: ["--store", "postgres", "--debug-faults"], environment: environment)
        let other = try await RelayProcess.start(arguments: ["--store", "postgres"], environment: environment)
        return (wrapped, other)
    }

    @Test func aDebugFaultsRelayFollowsEventsPublishedThroughAnotherRelay() async throws {
        let (wrapped, other) = try await Self.startPair("debug_faults_follow")
        let reader = try Reader(port: wrapped.port, clientID: "reader")
        try await SharedRelayTests.eventually(30, "the reader connected") { await reader.client.metrics.state == .connected }
        let (status, seqs) = try await SharedRelayTests.publish(other, (0..<3).map { #"{"topic":"t","data":\#($0)}"# })
        #expect(status == 202)
        try await SharedRelayTests.eventually(15, "the wrapped relay's subscriber received \(seqs) published elsewhere") {
            reader.seqs == seqs
        }
        try await reader.stop()
        await wrapped.terminate()
        await other.terminate()
    }

    @Test func aDebugFaultsRelayDoesNotGiveAwayAnIdBoundOnAnotherRelay() async throws {
        let (wrapped, other) = try await Self.startPair("debug_faults_identity")
        let owner = try Reader(port: other.port, clientID: "owner")
        try await SharedRelayTests.eventually(30, "the owner connected") { await owner.client.metrics.state == .connected }
        // Without the owner's secret the hello is refused (resume_refused), and the client comes
        // back as a new client under an id of its own.
        let thief = try Reader(port: wrapped.port, clientID: "owner")
        try await SharedRelayTests.eventually(30, "the second client connected under some id") { await thief.client.metrics.state == .connected }
        #expect(await thief.client.metrics.clientID != "owner", "the wrapped relay gave away an id bound on the other relay")
        try await thief.stop()
        try await owner.stop()
        await wrapped.terminate()
        await other.terminate()
    }
}
