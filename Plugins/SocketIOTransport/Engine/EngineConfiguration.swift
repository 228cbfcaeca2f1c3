/// Engine.IO settings, sent to clients in the `open` packet (except the outbound limit).
public struct EngineConfiguration: Sendable, Hashable {
    /// Milliseconds between the server's pings.
    public var pingInterval = 25_000
    /// Milliseconds a client has to answer a ping before its session is closed.
    public var pingTimeout = 20_000
    /// Largest request body or WebSocket message accepted, and the size a polling response
    /// aims for, in bytes. Larger input closes the session (HTTP 413 for a polling POST).
    public var maxPayload = 1_000_000
    /// Bytes queued for a client that has not fetched them yet before senders wait: what one
    /// slow connection may hold in memory beyond the shared log.
    public var outboundHighWater = 1 << 20

    public init() {}

    var pingIntervalDuration: Duration { .milliseconds(pingInterval) }
    var pingTimeoutDuration: Duration { .milliseconds(pingTimeout) }
}
