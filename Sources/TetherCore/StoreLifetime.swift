public import ServiceLifecycle

/// The store's place in the service group (``Relay/makeServices()``). Listed first, it is stopped
/// last, once every service that uses the store (the server and its connections, the
/// ``LogFollower``, the ``HealthMonitor``, and the ``PublishDrainer``, which answered every
/// producer it held) has returned; then it closes the relay (``Relay/close()``): the store is
/// closed, which ends the store's own background work (PostgreSQL's pool and listener). So no
/// task of the relay outlives the group.
///
/// When the group is cancelled instead (a service failed, or the graceful shutdown ran out of
/// time) it returns without closing: other services may still be using the store, and the one
/// who runs the group closes the relay after the group returned.
public struct StoreLifetime: Service {
    public let relay: Relay

    public init(relay: Relay) {
        self.relay = relay
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        try await relay.close()
    }
}
