import Foundation
import Testing
import TetherTesting

/// `tether reload --pid P` (the unit's `ExecReload=`) against a real relay: it returns only once
/// the relay has applied the new configuration, fails when the relay refuses it, and says why when
/// it cannot confirm. `RUNTIME_DIRECTORY` stands in for the unit's `RuntimeDirectory=tether`.
@Suite("tether reload confirms the reload")
struct ReloadCommandTests {
    /// A relay on a config file, with a runtime directory; returns once it has written its first
    /// reload status (it traps SIGHUP from then on).
    static func relay(config: URL, runtime: URL) async throws -> RelayProcess {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory", "--config", config.path], environment: ["RUNTIME_DIRECTORY": runtime.path])
        let status = runtime.appendingPathComponent("reload-status")
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: status.path), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return relay
    }

    static func reload(_ relay: RelayProcess, runtime: URL?) async throws -> Command.Result {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") && $0.key != "RUNTIME_DIRECTORY" }
        if let runtime { environment["RUNTIME_DIRECTORY"] = runtime.path }
        return try await Command.run(RelayProcess.binary.path, ["reload", "--pid", "\(relay.process.processIdentifier)", "--timeout", "20"], environment: environment)
    }

    @Test func reloadReturnsOnceTheNewLogLevelIsInForce() async throws {
        let runtime = try temporaryDirectory(prefix: "tether-runtime")
        let config = runtime.appendingPathComponent("tether.json")
        try Data(#"{"log": {"level": "info"}}"#.utf8).write(to: config)
        let relay = try await Self.relay(config: config, runtime: runtime)
        try Data(#"{"log": {"level": "debug"}}"#.utf8).write(to: config)
        let result = try await Self.reload(relay, runtime: runtime)
        #expect(result.status == 0, "\(result.output)\nrelay log:\n\(relay.log)")
        #expect(result.output.contains("reloaded: log.level=debug"), "\(result.output)")
        // The status it read is the relay's own account, written after the level changed.
        let status = try String(contentsOf: runtime.appendingPathComponent("reload-status"), encoding: .utf8)
        #expect(status == "\(relay.process.processIdentifier) 1 applied log.level=debug\n", "\(status)")
        // A second reload is a new generation, confirmed the same way.
        try Data(#"{"log": {"level": "notice"}}"#.utf8).write(to: config)
        let again = try await Self.reload(relay, runtime: runtime)
        #expect(again.status == 0 && again.output.contains("reloaded: log.level=notice"), "\(again.output)")
        #expect(relay.process.isRunning)
        #expect(await relay.terminate() == 0)
    }

    @Test func aRefusedReloadFailsTheCommandAndKeepsTheRelayRunning() async throws {
        let runtime = try temporaryDirectory(prefix: "tether-runtime")
        let config = runtime.appendingPathComponent("tether.json")
        try Data(#"{"log": {"level": "info"}}"#.utf8).write(to: config)
        let relay = try await Self.relay(config: config, runtime: runtime)
        try Data(#"{"log": {"level": "#.utf8).write(to: config)
        let result = try await Self.reload(relay, runtime: runtime)
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("tether: error: the relay refused the reload and keeps its running settings: "), "\(result.output)")
        #expect(result.output.contains(config.path), "the refusal should name the file: \(result.output)")
        #expect(relay.process.isRunning)
        // Fixed, the next reload is applied.
        try Data(#"{"log": {"level": "debug"}}"#.utf8).write(to: config)
        let fixed = try await Self.reload(relay, runtime: runtime)
        #expect(fixed.status == 0 && fixed.output.contains("reloaded: log.level=debug"), "\(fixed.output)")
        #expect(await relay.terminate() == 0)
    }

    @Test func withoutTheRuntimeDirectoryTheCommandSaysWhatIsMissing() async throws {
        let runtime = try temporaryDirectory(prefix: "tether-runtime")
        let config = runtime.appendingPathComponent("tether.json")
        try Data(#"{}"#.utf8).write(to: config)
        let relay = try await Self.relay(config: config, runtime: runtime)
        let unset = try await Self.reload(relay, runtime: nil)
        #expect(unset.status == 1)
        #expect(unset.output.contains("RUNTIME_DIRECTORY is not set"), "\(unset.output)")
        // Another directory: the relay never wrote there.
        let elsewhere = try temporaryDirectory(prefix: "tether-runtime-other")
        let absent = try await Self.reload(relay, runtime: elsewhere)
        #expect(absent.status == 1)
        #expect(absent.output.contains("no reload status in \(elsewhere.path)/reload-status"), "\(absent.output)")
        #expect(relay.process.isRunning)
        #expect(await relay.terminate() == 0)
    }
}
