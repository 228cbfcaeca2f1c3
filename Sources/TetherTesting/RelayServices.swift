public import ServiceLifecycle
public import TetherCore

/// Runs `body` while the relay's own services (``TetherCore/Relay/makeServices()``: its store
/// lifetime, publish drainer, health monitor and, over a shared log, log follower) run in one
/// `ServiceGroup`, as `tether serve` runs them without its HTTP server. Then stops the group
/// gracefully and returns once every service returned, which closed the relay.
///
/// A core test that does not call this drives a relay without services: its publishes are
/// drained by tasks the relay starts itself.
///
/// - Throws: what `body` threw, what the group threw, or ``DeadlineExceeded`` when the group did
///   not stop within `stopWithin` seconds.
public func withRelayServices<T>(_ relay: Relay, stopWithin seconds: Double = 30, _ body: () async throws -> T) async throws -> T {
    let group = ServiceGroup(services: relay.makeServices(), logger: relay.logger)
    let running = Task { try await group.run() }
    let result: Result<T, any Error>
    do {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    await group.triggerGracefulShutdown()
    try await withDeadline(seconds, "the relay's service group stopping") { try await running.value }
    return try result.get()
}
