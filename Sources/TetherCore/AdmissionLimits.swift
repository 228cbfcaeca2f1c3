/// Limits on how much of the relay one client (or everyone together) may take: connections,
/// publish rate and topics per subscription. Each is refused with a clear error and counted in
/// ``RelayCounters/refused`` by reason. `0` turns a limit off.
public struct AdmissionLimits: Sendable, Hashable {
    /// Most authenticated subscriber connections (WebSocket, SSE, Socket.IO) open at once, from
    /// everyone.
    public var maxConnections = 10_000
    /// Most authenticated subscriber connections open at once from one remote address.
    public var maxConnectionsPerAddress = 1_000
    /// Most connections open at once that have not authenticated yet, from everyone: with
    /// subscriber tokens configured, a Socket.IO session before its CONNECT carries a valid
    /// token. They never count against ``maxConnections``, so they cannot lock out token holders.
    public var maxPendingConnections = 64
    /// Most unauthenticated connections open at once from one remote address.
    public var maxPendingConnectionsPerAddress = 8
    /// Seconds a connection may stay unauthenticated before it is closed and its slot freed.
    public var pendingTimeout: Double = 10
    /// Events per second one remote address may publish, sustained (a token bucket).
    public var publishEventsPerSecond: Double = 50_000
    /// Events one remote address may publish in a burst above the sustained rate.
    public var publishBurst: Double = 100_000
    /// Most topics one subscription may name.
    public var maxTopicsPerClient = 1_000
    /// Most client records kept (ids, secrets and cursors). A new id past it evicts the records
    /// disconnected longest first; attached clients are never evicted (``maxConnections`` bounds
    /// them). At ~3 KB a record, the default bounds the table near 60 MB.
    public var maxClientRecords = 20_000

    public init() {}
}
