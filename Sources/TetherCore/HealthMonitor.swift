public import ServiceLifecycle

/// The relay's background sweep as a `Service`: every `sweepInterval` seconds it runs
/// ``Relay/sweep()`` (stale detection, record cleanup, retention, store probe). Each successful
/// sweep is the proof of life that readiness (`/readyz`) checks. The systemd watchdog does not
/// wait for it: it probes the core at its own cadence (``Relay/probeLiveness()``).
///
/// Returns when graceful shutdown starts.
public struct HealthMonitor: Service {
    public let relay: Relay

    public init(relay: Relay) {
        self.relay = relay
    }

    public func run() async throws {
        let interval = Duration.milliseconds(Int64(relay.configuration.sweepInterval * 1000))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await relay.sweep()
                // Cancellation (graceful shutdown) ends the sleep early; that is a normal return.
                try? await Task.sleep(for: interval)
            }
        }
    }
}
