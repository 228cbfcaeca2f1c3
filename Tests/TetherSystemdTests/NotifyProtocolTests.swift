import Foundation
import Testing
import TetherTesting

/// The real `tether serve` talking sd_notify to a real datagram socket that stands in for systemd.
/// Every wait polls with a deadline; nothing asserts on timing.
@Suite("sd_notify protocol of a running relay")
struct NotifyProtocolTests {
    /// Starts the relay under `sh -c 'WATCHDOG_PID=$$ exec tether serve …'`, so that the watchdog
    /// is meant for the relay's own pid, as systemd would set it.
    static let watchdogLauncher = ["/bin/sh", "-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\""]

    @Test func readyComesOnlyOnceThePortAcceptsAndStatusFollowsTheLog() async throws {
        let notify = try NotifySocketListener()
        let port = try freeLoopbackPort()
        async let started = RelayProcess.start(
            arguments: ["--listen", "127.0.0.1:\(port)"],
            environment: notify.environment.merging(["TETHER_SYSTEMD_STATUS_INTERVAL": "0.2"]) { $1 }
        )
        let ready = await notify.waitFor { $0.split(separator: "\n").contains("READY=1") }
        // Checked the moment READY=1 arrives: the listener must already accept connections.
        let accepting = loopbackAcceptsConnections(port: port)
        let relay = try await started
        #expect(ready != nil, "no READY=1; got \(notify.drain()); log:\n\(relay.log)")
        #expect(accepting, "READY=1 arrived before 127.0.0.1:\(port) accepted connections")
        #expect(notify.count("READY=1") == 1)

        _ = try await relay.http("POST", "/v1/events", body: Data(#"[{"topic":"a"},{"topic":"b"}]"#.utf8), headers: ["Content-Type": "application/json"])
        let status = await notify.waitFor { $0.contains("STATUS=") && $0.contains("head seq 2") }
        #expect(status != nil, "no STATUS= update with the new head; got \(notify.drain())")
        #expect(status?.contains("connected") == true && status?.contains("buffer 2 events") == true)
        #expect(await relay.terminate() == 0)
    }

    @Test func anInsecureRelaySaysSoInEveryStatus() async throws {
        // --insecure beyond loopback: listens on all addresses for the length of this test, with
        // publishing behind a token and subscribing open. Only 127.0.0.1 is ever connected to.
        let notify = try NotifySocketListener()
        let relay = try await RelayProcess.start(
            arguments: ["--store", "memory", "--listen", "0.0.0.0:0", "--insecure"],
            environment: notify.environment.merging(["TETHER_SYSTEMD_STATUS_INTERVAL": "0.2", "TETHER_AUTH_PRODUCER_TOKENS": "producer-token-0123456789"]) { $1 }
        )
        let ready = await notify.waitFor { $0.contains("READY=1") }
        #expect(ready?.contains("STATUS=INSECURE: listening on 0.0.0.0 beyond loopback with no token required to subscribe") == true, "\(notify.drain())")
        let deadline = Date().addingTimeInterval(15)
        while notify.drain().filter({ $0.contains("STATUS=") }).count < 3, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let statuses = notify.drain().filter { $0.contains("STATUS=") && !$0.contains("STOPPING=1") }
        #expect(statuses.count >= 3 && statuses.allSatisfy { $0.contains("STATUS=INSECURE:") }, "\(statuses)")
        #expect(relay.log.contains("critical") && relay.log.contains("INSECURE: listening on 0.0.0.0"))
        #expect(relay.log.contains("without TLS"))
        #expect(await relay.terminate() == 0)
    }

    @Test func sigtermSendsStoppingBeforeExit() async throws {
        let notify = try NotifySocketListener()
        let relay = try await RelayProcess.start(environment: notify.environment)
        #expect(await notify.waitFor { $0.contains("READY=1") } != nil)
        #expect(notify.count("STOPPING=1") == 0)
        #expect(await relay.terminate() == 0)
        #expect(notify.count("STOPPING=1") == 1, "got \(notify.drain())")
        let messages = notify.drain()
        let stopping = try #require(messages.firstIndex { $0.contains("STOPPING=1") })
        #expect(!messages[stopping...].contains { $0.contains("READY=1") })
    }

    @Test func sighupReloadsTheLogLevelBetweenReloadingAndReady() async throws {
        let notify = try NotifySocketListener()
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("tether-reload-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: config) }
        try Data(#"{"log": {"level": "info"}}"#.utf8).write(to: config)
        let relay = try await RelayProcess.start(arguments: ["--config", config.path], environment: notify.environment)
        #expect(await notify.waitFor { $0.contains("READY=1") } != nil)

        try Data(#"{"log": {"level": "debug"}}"#.utf8).write(to: config)
        relay.signal(SIGHUP)
        let reloading = await notify.waitFor { $0.contains("RELOADING=1") }
        #expect(reloading?.contains("MONOTONIC_USEC=") == true, "got \(notify.drain())")
        let readyAgain = await notify.waitForCount(of: "READY=1", atLeast: 2)
        #expect(readyAgain == 2)
        let messages = notify.drain()
        let reloadIndex = try #require(messages.firstIndex { $0.contains("RELOADING=1") })
        #expect(messages[reloadIndex...].contains { $0.contains("READY=1") }, "READY=1 must follow RELOADING=1")
        // The log arrives through a pipe, READY=1 through the notify socket: wait for the log.
        #expect(await waitForLog(relay, "configuration reloaded"), "log:\n\(relay.log)")
        #expect(relay.log.contains("log.level=debug"))
        #expect(process(relay, isRunning: true))
        #expect(await relay.terminate() == 0)
    }

    @Test func watchdogPingsAtHalfTheIntervalAndStopsWhileTheCoreIsWedged() async throws {
        let notify = try NotifySocketListener()
        let relay = try await RelayProcess.start(
            arguments: ["--debug-faults"],
            environment: notify.environment.merging(["WATCHDOG_USEC": "400000", "TETHER_SWEEP_INTERVAL": "0.05"]) { $1 },
            launcher: Self.watchdogLauncher
        )
        #expect(await notify.waitForCount(of: "WATCHDOG=1", atLeast: 3) >= 3, "log:\n\(relay.log)")
        #expect(relay.log.contains("watchdog enabled") && relay.log.contains("ping_interval=0.2 seconds"), "log:\n\(relay.log)")

        relay.signal(SIGUSR1)
        #expect(await waitForLog(relay, "watchdog degraded"), "log:\n\(relay.log)")
        let pingsWhenDegraded = notify.count("WATCHDOG=1")
        // Ten withheld pings later (logged as withheld_pings=10), still no new ping.
        #expect(await waitForLog(relay, "withheld_pings=10"), "log:\n\(relay.log)")
        #expect(notify.count("WATCHDOG=1") == pingsWhenDegraded, "a ping went out while the core was wedged")

        relay.signal(SIGUSR2)
        #expect(await waitForLog(relay, "watchdog recovered"), "log:\n\(relay.log)")
        #expect(await notify.waitForCount(of: "WATCHDOG=1", atLeast: pingsWhenDegraded + 2) >= pingsWhenDegraded + 2)
        #expect(await relay.terminate() == 0)
    }

    /// WatchdogSec=1s with the default 5 s sweep interval: the watchdog probes the core itself
    /// every 0.5 s, so a healthy relay is pinged often enough, and a wedged store still stops it.
    @Test func watchdogCadenceFollowsWatchdogSecNotTheSweepInterval() async throws {
        let notify = try NotifySocketListener()
        let relay = try await RelayProcess.start(
            arguments: ["--debug-faults"],
            environment: notify.environment.merging(["WATCHDOG_USEC": "1000000"]) { $1 },
            launcher: Self.watchdogLauncher
        )
        #expect(await notify.waitFor { $0.contains("READY=1") } != nil, "log:\n\(relay.log)")
        let before = notify.count("WATCHDOG=1")
        try await Task.sleep(for: .seconds(3))
        // Six ticks of 0.5 s fit in 3 s; fewer than four would let systemd restart a healthy relay.
        #expect(notify.count("WATCHDOG=1") - before >= 4, "log:\n\(relay.log)")

        relay.signal(SIGUSR1)
        #expect(await waitForLog(relay, "watchdog degraded"), "log:\n\(relay.log)")
        let pingsWhenDegraded = notify.count("WATCHDOG=1")
        try await Task.sleep(for: .seconds(2))
        #expect(notify.count("WATCHDOG=1") == pingsWhenDegraded, "a ping went out while the store was wedged")
        #expect(relay.log.contains("did not answer within"), "log:\n\(relay.log)")
        relay.signal(SIGUSR2)
        #expect(await waitForLog(relay, "watchdog recovered"), "log:\n\(relay.log)")
        #expect(await relay.terminate() == 0)
    }

    @Test func noWatchdogWhenItIsMeantForAnotherProcess() async throws {
        let notify = try NotifySocketListener()
        let relay = try await RelayProcess.start(
            environment: notify.environment.merging(["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1", "TETHER_SYSTEMD_STATUS_INTERVAL": "0.1"]) { $1 }
        )
        #expect(await notify.waitFor { $0.contains("READY=1") } != nil)
        // Several STATUS= refreshes (0.1 s apart) span more than two 0.2 s ping intervals.
        let deadline = Date().addingTimeInterval(15)
        while notify.drain().filter({ $0.hasPrefix("STATUS=") }).count < 6, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(notify.drain().filter { $0.hasPrefix("STATUS=") }.count >= 6)
        #expect(notify.count("WATCHDOG=1") == 0)
        #expect(!relay.log.contains("watchdog enabled"))
        await relay.terminate()
    }

    @Test func startupFailureIsReportedWithStatus() async throws {
        let notify = try NotifySocketListener()
        let failed = await #expect(throws: RelayProcessError.self) {
            _ = try await RelayProcess.start(arguments: ["--store", "no-such-store"], environment: notify.environment, timeout: 15)
        }
        #expect(failed != nil)
        let status = await notify.waitFor { $0.contains("STATUS=start-up failed") }
        #expect(status?.contains("no-such-store") == true, "got \(notify.drain())")
        #expect(notify.count("READY=1") == 0)
    }

    private func process(_ relay: RelayProcess, isRunning: Bool) -> Bool { relay.process.isRunning == isRunning }

    private func waitForLog(_ relay: RelayProcess, _ text: String, timeout: Double = 15) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !relay.log.contains(text), Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return relay.log.contains(text)
    }
}
