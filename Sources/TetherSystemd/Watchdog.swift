import CSystemd
public import Logging
public import ServiceLifecycle
public import TetherCore
public import struct Foundation.Date

/// The systemd watchdog, gated on the relay's health (invariant 6: the watchdog is pinged only
/// while the core is healthy).
///
/// When `sd_watchdog_enabled` reports a watchdog for this process (`WATCHDOG_USEC` set and
/// `WATCHDOG_PID` unset or equal to our pid), it wakes at half the interval and sends
/// `WATCHDOG=1` only if ``Relay/healthStatus``'s `lastProof` is newer than the proof the previous
/// ping was sent for: a health sweep (a round trip through the core and a store probe) completed
/// since. Otherwise it withholds the ping and logs a `watchdog_degraded` entry; if the core stays
/// wedged, systemd kills and restarts the relay after `WatchdogSec=`.
///
/// The sweep interval must be shorter than half of `WatchdogSec=`, or healthy pings are withheld
/// too; ``init(relay:notifier:logger:environment:)`` logs a warning when it is not.
public struct Watchdog: Service {
    public let relay: Relay
    public let notifier: SystemdNotifier
    public let logger: Logger
    /// Half of `WATCHDOG_USEC`, or `nil` when no watchdog is enabled for this process.
    public let pingInterval: Duration?

    public init(relay: Relay, notifier: SystemdNotifier, logger: Logger) {
        self.relay = relay
        self.notifier = notifier
        self.logger = logger
        var usec: UInt64 = 0
        if notifier.isEnabled, sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            pingInterval = .microseconds(Int64(usec / 2))
        } else {
            pingInterval = nil
        }
    }

    public func run() async throws {
        guard let pingInterval else {
            try? await gracefulShutdown()
            return
        }
        let sweep = Duration.milliseconds(Int64(relay.configuration.sweepInterval * 1000))
        if sweep >= pingInterval {
            logger.warning(
                "sweep-interval is not shorter than half of WatchdogSec; healthy pings will be withheld",
                metadata: ["sweep_interval": "\(sweep)", "ping_interval": "\(pingInterval)"]
            )
        }
        logger.info("watchdog enabled", metadata: ["ping_interval": "\(pingInterval)"])
        let (relay, notifier, logger) = (relay, notifier, logger)
        await cancelWhenGracefulShutdown {
            var gate = WatchdogGate()
            while !Task.isCancelled {
                let health = relay.healthStatus
                switch gate.decide(proof: health.lastProof) {
                case .ping:
                    if notifier.watchdog() { relay.counters.watchdogPings.add(1, ordering: .relaxed) }
                case .recovered:
                    if notifier.watchdog() { relay.counters.watchdogPings.add(1, ordering: .relaxed) }
                    logger.notice("watchdog recovered: the core proved itself healthy again; pinging resumed", metadata: Self.metadata(state: "healthy", previous: "degraded"))
                case .withhold(let count):
                    // Log the first withheld ping and then every tenth, so a long wedge stays visible
                    // without flooding the journal.
                    if count == 1 || count % 10 == 0 {
                        var metadata = Self.metadata(state: "degraded", previous: count == 1 ? "healthy" : "degraded")
                        metadata["withheld_pings"] = "\(count)"
                        if let proof = health.lastProof { metadata["last_proof"] = "\(proof)" }
                        if let error = health.lastError { metadata["error"] = "\(error)" }
                        logger.warning("watchdog degraded: no health proof since the last ping; WATCHDOG=1 withheld", metadata: metadata)
                    }
                }
                try? await Task.sleep(for: pingInterval)
            }
        }
    }

    static func metadata(state: String, previous: String) -> Logger.Metadata {
        [LogKey.event: "\(JournalCatalog.watchdogDegradedEvent)", LogKey.state: "\(state)", LogKey.previousState: "\(previous)"]
    }
}

/// The watchdog's decision rule, separate from timers so that it can be tested as a table: ping
/// only for a proof newer than the one the last ping was sent for.
public struct WatchdogGate: Sendable {
    public enum Decision: Sendable, Hashable {
        case ping
        /// A ping after one or more withheld ones.
        case recovered
        /// No new proof: the number of consecutive pings withheld so far.
        case withhold(Int)
    }

    private var lastPingedProof: Date?
    private var withheld = 0

    public init() {}

    public mutating func decide(proof: Date?) -> Decision {
        guard let proof, lastPingedProof.map({ proof > $0 }) ?? true else {
            withheld += 1
            return .withhold(withheld)
        }
        lastPingedProof = proof
        defer { withheld = 0 }
        return withheld > 0 ? .recovered : .ping
    }
}
