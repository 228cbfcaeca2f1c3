public import ServiceLifecycle
public import TetherCore

/// Keeps the service manager's `STATUS=` current (`systemctl status tether` shows it) and sends
/// `STOPPING=1` the moment graceful shutdown reaches it.
///
/// Put it last in the `ServiceGroup`: the group shuts services down in reverse order, so
/// `STOPPING=1` goes out before the HTTP server starts draining.
public struct StatusReporter: Service {
    public let relay: Relay
    public let notifier: SystemdNotifier
    public let interval: Duration
    /// Put first in every status line (an `--insecure` relay says so where operators look).
    public let warning: String?

    public init(relay: Relay, notifier: SystemdNotifier, interval: Duration = .seconds(5), warning: String? = nil) {
        self.relay = relay
        self.notifier = notifier
        self.interval = interval
        self.warning = warning
    }

    /// The one-line summary: the warning if any, connections, head sequence, buffer depth, and
    /// the last health error.
    public static func summary(of relay: Relay, warning: String? = nil) -> String {
        let totals = relay.stats().totals
        var line = (warning.map { $0 + "; " } ?? "") + "\(totals.active) connected, \(totals.connections) clients known; head seq \(totals.headSequence); buffer \(counted(totals.bufferDepthEvents, "event")), \(totals.bufferDepthBytes) bytes"
        if let error = relay.healthStatus.lastError { line += "; unhealthy: \(error)" }
        return line
    }

    public func run() async throws {
        guard notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        let (relay, notifier, interval, warning) = (relay, notifier, interval, warning)
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    notifier.status(Self.summary(of: relay, warning: warning))
                    try? await Task.sleep(for: interval)
                }
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }
}
