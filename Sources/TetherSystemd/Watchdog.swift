import CSystemd
public import Logging
public import ServiceLifecycle
public import TetherCore
public import struct Foundation.Date

/// The systemd watchdog, gated on the relay's health (invariant 6: the watchdog is pinged only
/// while the core is healthy).
///
/// When `sd_watchdog_enabled` reports a watchdog for this process (`WATCHDOG_USEC` set and
/// `WATCHDOG_PID` unset or equal to our pid), it wakes every half of the interval and proves the
/// core alive itself: ``Relay/probeLiveness()`` (a round trip through the core and the store)
/// must complete within a quarter of the interval. Only then does it send `WATCHDOG=1`, so the
/// cadence follows `WatchdogSec=` alone, whatever the sweep interval. A probe that fails or misses
/// its deadline withholds the ping and logs a `watchdog_degraded` entry; if the core stays wedged,
/// systemd aborts and restarts the relay after `WatchdogSec=`. A probe still in flight is waited on
/// again at the next tick rather than started anew.
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

    /// How long a probe may take: a quarter of `WatchdogSec=`, so that even a slow answer keeps
    /// pings at most three quarters of the interval apart.
    public var probeDeadline: Duration? { pingInterval.map { $0 / 2 } }

    public func run() async throws {
        guard let pingInterval, let probeDeadline else {
            try? await gracefulShutdown()
            return
        }
        logger.info("watchdog enabled", metadata: ["ping_interval": "\(pingInterval)", "probe_deadline": "\(probeDeadline)"])
        let (relay, notifier, logger) = (relay, notifier, logger)
        await cancelWhenGracefulShutdown {
            var gate = WatchdogGate()
            var probe: LivenessProbe?
            let clock = ContinuousClock()
            while !Task.isCancelled {
                let tick = clock.now
                let current = probe.flatMap { $0.isFinished ? nil : $0 } ?? LivenessProbe(relay: relay)
                probe = current
                let outcome = await current.outcome(within: probeDeadline)
                var proof: Date?
                var error: String?
                switch outcome {
                case .success(let time): proof = time
                case .failure(let failure): error = "store probe failed: \(failure)"
                case nil: error = "the core and store did not answer within \(probeDeadline)"
                }
                switch gate.decide(proof: proof) {
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
                        if let error { metadata["error"] = "\(error)" }
                        logger.warning("watchdog degraded: the core did not prove itself healthy; WATCHDOG=1 withheld", metadata: metadata)
                    }
                }
                try? await Task.sleep(until: tick.advanced(by: pingInterval), clock: clock)
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
