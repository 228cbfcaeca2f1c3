public import struct Foundation.Date

/// A ``BufferStore`` that also keeps client records, so that client ids, their resume secrets
/// and cursors survive a relay restart (a durable store's promise). The memory store does not
/// conform: after its restart every client starts over, and is told `reset`.
///
/// The relay loads the records once at start, saves a record when a client id is first bound
/// (so the binding to its secret is never lost) and saves changed records in each health sweep.
public protocol ClientRecordStore: BufferStore {
    func loadClients() async throws -> [PersistedClient]
    /// The saved record of one client id, or `nil`. The default loads every record and picks
    /// one; a store that can look one up directly should.
    func loadClient(_ id: String) async throws -> PersistedClient?
    /// Inserts or replaces these records, but never replaces a record's secret: a record bound to
    /// another secret is left as it is.
    func saveClients(_ clients: [PersistedClient]) async throws
    func deleteClients(_ ids: [String]) async throws
    /// Binds a new client id to its secret with a compare-and-set: stores `client` when the id has
    /// no record, and returns the record the store holds afterwards. A returned record with another
    /// `secretDigest` means the id was bound before (by another relay); the caller must not
    /// welcome the hello then. A later ``saveClients(_:)`` never replaces a bound secret.
    func bindClient(_ client: PersistedClient) async throws -> PersistedClient
}

extension ClientRecordStore {
    public var clientRecords: (any ClientRecordStore)? { self }

    public func loadClient(_ id: String) async throws -> PersistedClient? {
        try await loadClients().first { $0.id == id }
    }

    /// For a store only one relay uses, the relay's own client table already decided: a plain save.
    public func bindClient(_ client: PersistedClient) async throws -> PersistedClient {
        try await saveClients([client])
        return client
    }
}

/// The part of a ``ClientRecord`` that outlives the process.
public struct PersistedClient: Sendable, Hashable, Codable {
    public var id: String
    public var secretDigest: String
    public var epoch: String
    public var ackedSeq: UInt64
    public var firstSeen: Date
    public var lastSeen: Date
    public var reconnects: Int
    public var delivered: UInt64
    public var acked: UInt64
    public var transport: String

    public init(
        id: String, secretDigest: String, epoch: String, ackedSeq: UInt64, firstSeen: Date, lastSeen: Date,
        reconnects: Int, delivered: UInt64, acked: UInt64, transport: String
    ) {
        self.id = id
        self.secretDigest = secretDigest
        self.epoch = epoch
        self.ackedSeq = ackedSeq
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.reconnects = reconnects
        self.delivered = delivered
        self.acked = acked
        self.transport = transport
    }
}

extension ClientRecord {
    init(restoring saved: PersistedClient) {
        self.init(
            id: saved.id, secret: ResumeSecret(digest: saved.secretDigest), epoch: Epoch(rawValue: saved.epoch),
            transport: saved.transport, remote: "", now: saved.firstSeen
        )
        state = .disconnected
        disconnectedAt = saved.lastSeen
        lastActivity = saved.lastSeen
        ackedSeq = saved.ackedSeq
        deliveredSeq = saved.ackedSeq
        reconnects = saved.reconnects
        delivered = saved.delivered
        acked = saved.acked
    }

    /// How stale a connected client's saved `lastSeen` may get before its record is saved again
    /// for that alone: a tenth of the record TTL, at most a minute. A clean stop saves every
    /// changed record, with the time its client left (``Relay/close()``); only after a crash does a
    /// record come back up to this much older than it was, so its TTL runs out that much sooner.
    /// Saving it on every ping instead rewrote every idle client's record once per ping interval
    /// (1,000 store rows a second with 10,000 idle subscribers pinged every 10 s).
    public static func lastSeenSaveInterval(recordTTL: Double) -> Double {
        min(60, recordTTL / 10)
    }

    /// Whether the record's `lastSeen` moved far enough past the saved one to be saved again
    /// (see ``lastSeenSaveInterval(recordTTL:)``); always true before the first save.
    func lastSeenNeedsSave(recordTTL: Double) -> Bool {
        guard let savedLastSeen else { return true }
        return (disconnectedAt ?? lastActivity).timeIntervalSince(savedLastSeen) >= Self.lastSeenSaveInterval(recordTTL: recordTTL)
    }

    var persisted: PersistedClient {
        PersistedClient(
            id: id, secretDigest: secret.digest, epoch: epoch.rawValue, ackedSeq: ackedSeq, firstSeen: firstSeen,
            lastSeen: disconnectedAt ?? lastActivity, reconnects: reconnects, delivered: delivered, acked: acked,
            transport: transport
        )
    }
}
