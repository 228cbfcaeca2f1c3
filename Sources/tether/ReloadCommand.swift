import ArgumentParser
import Foundation
import TetherSystemd

/// `tether reload`: sends SIGHUP to a running relay and returns only when the relay says the new
/// configuration is in force (exit 0) or that it refused it (exit 1). The unit's `ExecReload=`,
/// so `systemctl reload tether` returns after the reload, not before it began.
///
/// The relay answers in `$RUNTIME_DIRECTORY/reload-status` (``ReloadStatusFile``): the command
/// reads the generation there, signals, and polls (every 20 ms, up to `--timeout`) for a newer one
/// written by the same pid.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload a running relay's configuration and wait until it is in force.",
        discussion: """
            Needs the relay's RUNTIME_DIRECTORY (systemd sets it for ExecReload= from \
            RuntimeDirectory=tether). Exit status: 0 applied, 1 refused (the relay kept its \
            running settings) or not confirmed in time.
            """
    )

    @Option(help: "Process id of the relay (systemd: $MAINPID).")
    var pid: Int32

    @Option(help: "Seconds to wait for the relay to confirm.")
    var timeout: Double = 30

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let file = ReloadStatusFile(environment: environment) else {
            throw Self.fail("RUNTIME_DIRECTORY is not set, so the reload cannot be confirmed: run this as the unit's ExecReload= (RuntimeDirectory=tether), or send SIGHUP yourself")
        }
        guard let before = file.read() else {
            throw Self.fail("no reload status in \(file.path): the relay writes it once it runs with RUNTIME_DIRECTORY set; is pid \(pid) a tether serve started by this unit?")
        }
        guard before.pid == pid else {
            throw Self.fail("\(file.path) was written by pid \(before.pid), not \(pid): the relay may be restarting; try again once it is ready")
        }
        guard kill(pid, SIGHUP) == 0 else {
            throw Self.fail("cannot signal pid \(pid): \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let now = file.read(), now.pid == pid, now.generation > before.generation {
                switch now.outcome {
                case .applied:
                    print("reloaded: \(now.message)")
                    return
                case .refused, .listening:
                    throw Self.fail("the relay refused the reload and keeps its running settings: \(now.message)", status: 1)
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Self.fail("the relay (pid \(pid)) did not confirm the reload within \(timeout) s; its settings are unknown. See `journalctl -u tether`")
    }

    static func fail(_ message: String, status: Int32 = 1) -> ExitCode {
        FileHandle.standardError.write(Data("tether: error: \(message)\n".utf8))
        return ExitCode(status)
    }
}
