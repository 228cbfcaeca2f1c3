/// A wire protocol over which subscribers and producers reach the relay (WebSocket, SSE,
/// Socket.IO). Each connection it accepts drives one ``Session``.
///
/// `Routes` is the server's router type: the core knows no HTTP, so the server names it (a
/// Hummingbird `Router`) and each transport registers its endpoints on it.
public protocol Transport<Routes>: Sendable {
    associatedtype Routes

    /// Adds the transport's endpoints to `routes`. Called once, before the server listens;
    /// connections then arrive on those endpoints until shutdown.
    func register(on routes: Routes, relay: Relay)
}

/// Renders the relay's metrics in one format at one endpoint (Prometheus text, JSON stats).
/// Rendering reads the relay's counters and a stats snapshot; it never blocks publishing.
public protocol MetricsExporter<Routes>: Sendable {
    associatedtype Routes

    /// Adds the exporter's endpoint(s) to `routes`. Called once, before the server listens.
    func register(on routes: Routes, relay: Relay)
}
