public import DequeModule
public import struct Foundation.Date

/// What the relay knows about one client id, connected or not: its secret, its cursor (the last
/// sequence it acknowledged), its state and the counters behind its quality score.
///
/// Owned by the relay's client table (one lock); sessions update it per batch, never per event.
public struct ClientRecord: Sendable {
    public let id: String
    public var secret: ResumeSecret
    public var epoch: Epoch
    public var state: ConnectionState
    public var transport: String
    public var remote: String
    /// The session attached now, if any.
    public var sessionID: UInt64?
    public let firstSeen: Date
    public var connectedSince: Date?
    public var disconnectedAt: Date?
    public var lastActivity: Date
    /// Seconds connected over finished connections (the current one is added on read).
    public var connectedSeconds: Double = 0
    public var reconnects = 0
    public var recentReconnects: Deque<Date> = []
    /// The cursor: every event up to here was acknowledged by the client; where it resumes.
    public var ackedSeq: UInt64 = 0
    /// The newest sequence written to a transport without acknowledgements (SSE): delivered as
    /// far as the relay can tell, but not confirmed, so not a resume position. Not persisted.
    public var writtenSeq: UInt64 = 0
    /// How far the client has got, for lag: acknowledged, or written where nothing can ack.
    public var progressSeq: UInt64 { max(ackedSeq, writtenSeq) }
    public var deliveredSeq: UInt64 = 0
    public var delivered: UInt64 = 0
    public var acked: UInt64 = 0
    public var overdue = 0
    public var rttSeconds: Double?
    /// An ephemeral client's record exists only while it is connected and is never saved
    /// (``Hello/ephemeral``).
    public var ephemeral = false
    public var lastAckAt: Date?
    /// The `lastSeen` the store was last given for this record (``PersistedClient/lastSeen``), or
    /// `nil` before its first save. Not persisted: it lets a connected client's moving
    /// `lastActivity` be saved at most once per ``ClientRecord/lastSeenSaveInterval(recordTTL:)``
    /// instead of on every ping.
    var savedLastSeen: Date?

    public init(id: String, secret: ResumeSecret, epoch: Epoch, transport: String, remote: String, now: Date) {
        self.id = id
        self.secret = secret
        self.epoch = epoch
        self.state = .connecting
        self.transport = transport
        self.remote = remote
        self.firstSeen = now
        self.lastActivity = now
    }

    /// Seconds connected in total, the current connection included.
    public func uptime(now: Date) -> Double {
        connectedSeconds + (connectedSince.map { now.timeIntervalSince($0) } ?? 0)
    }

    public func quality(now: Date, configuration: RelayConfiguration) -> Double {
        QualityScore.compute(
            QualityScore.Inputs(
                recentReconnects: recentReconnects.count,
                delivered: delivered,
                acked: acked,
                overdue: overdue,
                connectedSeconds: uptime(now: now),
                knownSeconds: now.timeIntervalSince(firstSeen),
                silentSeconds: now.timeIntervalSince(lastActivity),
                staleTimeout: configuration.staleTimeout,
                rttSeconds: rttSeconds
            )
        )
    }

    /// Counts a reconnect and forgets reconnects older than `window` seconds.
    mutating func countReconnect(now: Date, window: Double) {
        reconnects += 1
        recentReconnects.append(now)
        forgetOldReconnects(now: now, window: window)
    }

    mutating func forgetOldReconnects(now: Date, window: Double) {
        while let first = recentReconnects.first, now.timeIntervalSince(first) > window {
            recentReconnects.removeFirst()
        }
    }
}
