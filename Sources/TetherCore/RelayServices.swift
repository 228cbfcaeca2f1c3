public import ServiceLifecycle

extension Relay {
    /// The relay's own long-running parts, in the order a `ServiceGroup` must hold them. The group
    /// stops its services in the reverse order, each after the ones after it returned, so:
    /// 1. ``StoreLifetime`` is stopped last: it closes the relay, which closes the store and ends
    ///    the store's own background work (PostgreSQL's pool and listener);
    /// 2. the ``PublishDrainer`` before it, once nothing publishes any more: it answers every
    ///    producer it holds, and the relay refuses publishes from then on;
    /// 3. the ``HealthMonitor``, and 4. the ``LogFollower`` (over a shared log), which use the
    ///    store, before those.
    ///
    /// Whatever uses the relay (the HTTP server and its connections, the process's own services)
    /// goes after these in the group, so it stops first. Call once, before the relay's first
    /// publish (this makes the relay's ``PublishDrainer``, which its publishes then wait for).
    public func makeServices() -> [any Service] {
        var services: [any Service] = [StoreLifetime(relay: self), makePublishDrainer(), HealthMonitor(relay: self)]
        if let sharedLog {
            // Several relays share this log: fan out what the others commit.
            services.append(LogFollower(relay: self, store: sharedLog))
        }
        return services
    }
}
