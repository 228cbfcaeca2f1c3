/// The kinds of connection event the relay logs, one log entry each. The raw value is the
/// `tether.event` metadata; journald maps each kind to a fixed `MESSAGE_ID` with a catalog entry.
public enum ConnectionEvent: String, Sendable, CaseIterable {
    case connected
    case resumed
    case replayGap = "replay_gap"
    case reset
    case stale
    case active
    case disconnected
    case superseded
    case forgotten
    case resumeRefused = "resume_refused"
    case slowConsumer = "slow_consumer"
}

/// Metadata keys of Tether's log entries. A journald handler turns `tether.client_id` into the
/// field `TETHER_CLIENT_ID`; a stderr handler prints them as they are.
public enum LogKey {
    public static let event = "tether.event"
    public static let clientID = "tether.client_id"
    public static let connectionID = "tether.conn_id"
    public static let transport = "tether.transport"
    public static let state = "tether.state"
    public static let previousState = "tether.prev_state"
    public static let seq = "tether.seq"
    public static let latencyMilliseconds = "tether.latency_ms"
    public static let quality = "tether.quality"
    public static let remote = "tether.remote"
    /// Why a connection ended or a hello was refused, in words (`TETHER_REASON`).
    public static let reason = "tether.reason"
}
