/// The relay core's tunables, with the seed's defaults where it had one.
public struct RelayConfiguration: Sendable, Hashable {
    public var retention = RetentionPolicy()
    /// A subscriber further behind than this is owed only the newest `lagCap` events; the rest
    /// is a declared gap (the seed's per-client buffer of 1000).
    public var lagCap = 1000
    /// Most unacknowledged events in flight per connection.
    public var window = 256
    /// Seconds without traffic before a connection is stale (the seed's 90 s).
    public var staleTimeout: Double = 90
    /// Seconds a delivered event may stay unacked before it counts against quality.
    public var ackTimeout: Double = 30
    /// Seconds a disconnected client's record is kept (its cursor and secret); defaults to the TTL.
    public var clientRecordTTL: Double = 300
    /// Seconds between health sweeps (stale detection, cleanup, trim, store probe).
    public var sweepInterval: Double = 5
    /// Reconnects older than this many seconds no longer lower the quality score.
    public var reconnectWindow: Double = 900
    /// The in-memory window of newest events that live fan-out reads from.
    public var recentEvents = 8192
    public var recentBytes = 64 << 20
    /// Most bytes (``Event/retainedBytes``) one store read may return: a poll page, a replay page,
    /// a topic-filtered scan. What one client asks for costs at most this much memory at a time,
    /// however large the log's events are; a page always holds at least one event.
    public var readPageBytes = 1 << 20
    /// Most events the relay hands one store append (group commit batch).
    public var maxAppendBatch = 4096
    /// Seconds a failed append keeps the relay unready (`/readyz` 503) after health sweeps start
    /// succeeding again; a successful append ends it sooner.
    public var readinessHoldAfterAppendFailure: Double = 15
    /// Who may publish and subscribe; every transport checks it.
    public var access = AccessPolicy()
    /// Connections, publish rate and topics per client (`limits.*`).
    public var admission = AdmissionLimits()

    public init() {}
}
