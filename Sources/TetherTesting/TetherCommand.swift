public import Foundation

/// Runs the `tether` binary under test (``RelayProcess/binary``) to completion with a subcommand,
/// in an environment without `TETHER_*` or `STATE_DIRECTORY`, so only the given arguments count:
/// for commands that end on their own (`backup`, `restore`) and for a `serve` expected to refuse.
public enum TetherCommand {
    public static func run(_ arguments: [String], timeout: Double = 60) async throws -> Command.Result {
        try await Command.run(
            RelayProcess.binary.path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") && $0.key != "STATE_DIRECTORY" },
            timeout: timeout
        )
    }

    /// `tether serve` on a free port over `stateDirectory`, expected to exit by itself (refusing).
    public static func serveExpectingExit(stateDirectory: URL, timeout: Double = 30) async throws -> Command.Result {
        try await run(["serve", "--listen", "127.0.0.1:0", "--state-dir", stateDirectory.path], timeout: timeout)
    }
}
