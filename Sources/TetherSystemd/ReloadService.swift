public import Logging
public import ServiceLifecycle
import UnixSignals

/// Reloads configuration on SIGHUP, framed for the service manager: `RELOADING=1` with
/// `MONOTONIC_USEC=` first, then `READY=1` when done (also when the reload failed: the relay
/// keeps running with its previous settings, and `STATUS=` says why).
///
/// What a reload can change is up to `reload`; `tether serve` applies `log.level` only (see
/// docs/OPERATIONS.md). SIGHUP is trapped for as long as this service runs, so it no longer
/// terminates the process.
public struct ReloadService: Service {
    public let notifier: SystemdNotifier
    public let logger: Logger
    /// Re-reads configuration and applies what can change without a restart; returns a summary
    /// of what it applied.
    public let reload: @Sendable () async throws -> String

    public init(notifier: SystemdNotifier, logger: Logger, reload: @escaping @Sendable () async throws -> String) {
        self.notifier = notifier
        self.logger = logger
        self.reload = reload
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let (notifier, logger, reload) = (notifier, logger, reload)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                notifier.reloading()
                do {
                    let applied = try await reload()
                    logger.notice("configuration reloaded", metadata: ["applied": "\(applied)"])
                    notifier.ready(status: "reloaded: \(applied)")
                } catch {
                    logger.error("configuration reload failed; running settings kept", metadata: ["error": "\(error)"])
                    notifier.ready(status: "reload failed, previous settings kept: \(error)")
                }
            }
        }
    }
}
