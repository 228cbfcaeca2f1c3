import Logging
import TetherCore
import TetherServer
import ServiceLifecycle
import TetherSystemd

/// How `tether serve` joins systemd: readiness, status, reload, watchdog, socket activation and
/// the debug fault switch. Every part is inert outside systemd (no `NOTIFY_SOCKET`, no
/// `LISTEN_FDS`), so the same binary runs anywhere.
struct SystemdWiring {
    let notifier: SystemdNotifier
    let hooks: ServerHooks

    /// - Parameters:
    ///   - wedge: the debug fault switch, when `--debug-faults` was given.
    ///   - warning: what must stay at the front of `STATUS=` (an `--insecure` relay says so).
    ///   - reload: what SIGHUP applies; returns a summary of it.
    init(
        environment: [String: String], logger: Logger, wedge: WedgeSwitch?, warning: String?,
        reload: @escaping @Sendable () async throws -> String
    ) throws(ConfigurationError) {
        let notifier = SystemdNotifier(environment: environment)
        var socket: Int32?
        if environment["LISTEN_FDS"] != nil {
            let descriptors = SocketActivation.listeningDescriptors()
            guard let first = descriptors.first(where: SocketActivation.isListeningStreamSocket) else {
                throw ConfigurationError("LISTEN_FDS is set but no listening stream socket was passed (got \(descriptors.count) descriptors)")
            }
            if descriptors.count > 1 {
                logger.warning("socket activation passed several sockets; serving the first listening stream socket only", metadata: ["fd": "\(first)"])
            }
            socket = first
        }
        // STATUS= refresh period; tests shorten it (TETHER_SYSTEMD_STATUS_INTERVAL, in seconds).
        let statusInterval = environment["TETHER_SYSTEMD_STATUS_INTERVAL"].flatMap(Double.init).map { Duration.milliseconds(Int64(max($0, 0.05) * 1000)) } ?? .seconds(5)
        self.notifier = notifier
        self.hooks = ServerHooks(
            onRunning: { relay in
                notifier.ready(status: StatusReporter.summary(of: relay, warning: warning))
            },
            services: { relay in
                var services: [any Service] = []
                if let wedge { services.append(DebugFaultSignals(wedge: wedge, logger: logger)) }
                services.append(Watchdog(relay: relay, notifier: notifier, logger: logger))
                services.append(ReloadService(notifier: notifier, logger: logger, statusFile: ReloadStatusFile(environment: environment), reload: reload))
                // Last: the group stops services in reverse order, so STOPPING=1 goes out first.
                services.append(StatusReporter(relay: relay, notifier: notifier, interval: statusInterval, warning: warning))
                return services
            },
            listeningSocket: socket
        )
    }
}
