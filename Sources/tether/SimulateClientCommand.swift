import ArgumentParser
import Foundation
import Logging
import MemoryStore
import Synchronization
import TetherCore
import TetherSystemd

/// `tether simulate-client CLIENT_ID` (hidden, for tests and for trying the journal set-up): runs
/// the relay core in-process on a memory store and walks one client through a known sequence of
/// connection events, logged through the same handler choice as `tether serve`:
///
/// connected → disconnected → resumed → connected (+ replay_gap) → stale → disconnected
///
/// No network is involved; the core, the log handler and the journal are all real.
struct SimulateClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-client",
        abstract: "Walk one simulated client through connect, resume, gap, stale and disconnect (for tests).",
        shouldDisplay: false
    )

    @Argument(help: "The client id to use.")
    var clientID: String

    @Option(help: "Where to log: journal, stderr, or auto.")
    var log: String = "auto"

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let destination = LogDestination(rawValue: log) else {
            throw ValidationError("--log \"\(log)\" is not one of journal, stderr, auto")
        }
        LoggingSystem.bootstrap(destination.makeHandlerFactory(level: ReloadableLogLevel(.info), environment: environment))
        var configuration = RelayConfiguration()
        configuration.lagCap = 2
        configuration.staleTimeout = 1
        // The relay's clock is simulated, so "silent past the stale timeout" needs no waiting.
        let clock = Mutex(Date())
        let relay = Relay(
            store: MemoryBufferStore(), configuration: configuration, logger: Logger(label: "tether.relay"),
            now: { clock.withLock { $0 } }
        )
        try await relay.start()

        // 1. A fresh client connects, receives two events (within its lag cap) and acknowledges them.
        let first = try await relay.subscribe(Hello(clientID: clientID), transport: "simulated", remote: "127.0.0.1:40001")
        _ = try await relay.publish((1...2).map { EventDraft(topic: "demo", data: Array("\($0)".utf8)) })
        var buffer: [Event] = []
        while buffer.last?.seq != 2 { _ = try await first.next(into: &buffer) }
        first.recordPing(roundTrip: 0.012)
        try first.ack(2)
        first.close(reason: "the client closed the connection")

        // 2. Five more events while it is away; the lag cap (2) makes its resume a declared gap.
        _ = try await relay.publish((3...7).map { EventDraft(topic: "demo", data: Array("\($0)".utf8)) })
        let second = try await relay.subscribe(
            Hello(clientID: clientID, resumeToken: first.welcome.resumeToken, epoch: first.welcome.epoch, lastSequence: 2),
            transport: "simulated", remote: "127.0.0.1:40002"
        )

        // 3. It goes silent past the stale timeout; the health sweep marks it stale; it drops.
        clock.withLock { $0 = $0.addingTimeInterval(configuration.staleTimeout + 1) }
        await relay.sweep()
        second.close(reason: "connection lost")
        print("simulated client \(clientID): head seq \(relay.logState.head)")
    }
}
