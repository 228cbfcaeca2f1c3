public import ServiceLifecycle
public import TetherCore

/// How the process around the relay joins in, without the server knowing who that is (systemd's
/// pieces live in TetherSystemd and are wired by the `tether` executable).
public struct ServerHooks: Sendable {
    /// Called once the listener accepts connections and the store is open (after the
    /// "listening on" line): where `READY=1` is sent.
    public var onRunning: @Sendable (Relay) async -> Void
    /// Services to run beside the server, in this order, after it in the `ServiceGroup`; the
    /// group stops them in reverse order, so the last one hears of shutdown first.
    public var services: @Sendable (Relay) -> [any Service]
    /// An already bound, listening socket to serve instead of binding `listen` (socket
    /// activation).
    public var listeningSocket: Int32?

    public init(
        onRunning: @escaping @Sendable (Relay) async -> Void = { _ in },
        services: @escaping @Sendable (Relay) -> [any Service] = { _ in [] },
        listeningSocket: Int32? = nil
    ) {
        self.onRunning = onRunning
        self.services = services
        self.listeningSocket = listeningSocket
    }
}
