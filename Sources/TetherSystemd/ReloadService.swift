public import Logging
public import ServiceLifecycle
import UnixSignals
import Glibc

/// Reloads configuration on SIGHUP, framed for the service manager: `RELOADING=1` with
/// `MONOTONIC_USEC=` first, then `READY=1` when done (also when the reload failed: the relay
/// keeps running with its previous settings, and `STATUS=` says why).
///
/// What a reload can change is up to `reload`; `tether serve` applies `log.level` only (see
/// docs/OPERATIONS.md). SIGHUP is trapped for as long as this service runs, so it no longer
/// terminates the process.
///
/// With a ``ReloadStatusFile`` each outcome is also written there, after it took effect, for
/// `tether reload` to confirm. The generation counter lives in ``run()`` (its only owner).
public struct ReloadService: Service {
    public let notifier: SystemdNotifier
    public let logger: Logger
    public let statusFile: ReloadStatusFile?
    /// Re-reads configuration and applies what can change without a restart; returns a summary
    /// of what it applied.
    public let reload: @Sendable () async throws -> String

    public init(notifier: SystemdNotifier, logger: Logger, statusFile: ReloadStatusFile? = nil, reload: @escaping @Sendable () async throws -> String) {
        self.notifier = notifier
        self.logger = logger
        self.statusFile = statusFile
        self.reload = reload
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let (notifier, logger, reload, statusFile) = (notifier, logger, reload, statusFile)
        let pid = getpid()
        let record = { @Sendable (generation: UInt64, outcome: ReloadStatusFile.Outcome, message: String) in
            guard let statusFile else { return }
            do {
                try statusFile.write(.init(pid: pid, generation: generation, outcome: outcome, message: message))
            } catch {
                logger.error(
                    "could not write the reload status file; `tether reload` (ExecReload=) cannot confirm reloads and will time out. Check that RuntimeDirectory= is set and writable",
                    metadata: ["path": "\(statusFile.path)", "error": "\(error)"]
                )
            }
        }
        // SIGHUP is trapped from here on: `tether reload` may send it.
        record(0, .listening, "waiting for SIGHUP")
        await cancelWhenGracefulShutdown {
            var generation: UInt64 = 0
            for await _ in signals {
                generation += 1
                notifier.reloading()
                do {
                    let applied = try await reload()
                    logger.notice("configuration reloaded", metadata: ["applied": "\(applied)", "generation": "\(generation)"])
                    record(generation, .applied, applied)
                    notifier.ready(status: "reloaded: \(applied)")
                } catch {
                    logger.error("configuration reload failed; running settings kept", metadata: ["error": "\(error)", "generation": "\(generation)"])
                    record(generation, .refused, "\(error)")
                    notifier.ready(status: "reload failed, previous settings kept: \(error)")
                }
            }
        }
    }
}
