import Logging
import struct Foundation.Date
import Synchronization

/// Every client the relay knows, by id, and the sessions attached now; it logs each client's
/// state changes.
///
/// Ownership: the records, the attached sessions and the ids changed or evicted since the last
/// save belong to this table, behind its one `Mutex`. No lock is held across an `await`.
///
/// Who calls whom:
/// - the ``Relay`` calls in: a hello attaches a session here, the sweep and the saves take what
///   changed, the stats read it. The table never calls the relay, the fan-out or the store.
/// - a ``Session`` calls in to change its own record (``updateRecord(of:_:)``) and to leave
///   (``detach(_:reason:)``), never while holding its own lock.
/// - the table calls a ``Session`` only under its lock and only for what takes the session's own
///   lock and nothing else (``Session/drainProgress(into:now:ackTimeout:)``,
///   ``Session/markStale()``, and reading its claim generation, an atomic): the lock order is
///   client table, then session; the fan-out's lock is never taken while the table's is held.
final class ClientTable: Sendable {
    let configuration: RelayConfiguration
    let logger: Logger
    let counters: RelayCounters
    let histograms: RelayHistograms
    let now: @Sendable () -> Date
    /// Taken only by this type's own methods (`ClientTable*.swift`), never across an `await`.
    let entries = Mutex(Entries())

    init(configuration: RelayConfiguration, logger: Logger, counters: RelayCounters, histograms: RelayHistograms, now: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.logger = logger
        self.counters = counters
        self.histograms = histograms
        self.now = now
    }

    /// What the table's lock guards.
    struct Entries: ~Copyable {
        var records: [String: ClientRecord] = [:]
        var sessions: [UInt64: Session] = [:]
        /// Ids whose record changed since the last sweep saved them (for durable stores).
        var dirty: Set<String> = []
        /// Ids evicted by the record cap since the last sweep (deleted from a durable store then).
        var evicted: [String] = []

        /// Makes room for one more record under `cap`: when the table is full, evicts the records
        /// disconnected longest ago (a batch of 1 % of the cap, so the scan is rare). Attached
        /// clients are never evicted. Returns the evicted records.
        mutating func makeRoom(cap: Int) -> [ClientRecord] {
            guard records.count >= cap else { return [] }
            let excess = records.count - cap + 1
            let batch = max(excess, cap / 100)
            let oldest = records.values
                .filter { $0.state == .disconnected }
                .sorted { ($0.disconnectedAt ?? .distantPast) < ($1.disconnectedAt ?? .distantPast) }
                .prefix(batch)
            for record in oldest {
                records[record.id] = nil
                dirty.remove(record.id)
                evicted.append(record.id)
            }
            return Array(oldest)
        }

        /// The ids evicted since the last sweep, to delete from a durable store now, and forgets
        /// them. An evicted id claimed anew since is a live record again: the store keeps it.
        mutating func takeEvicted() -> [String] {
            defer { evicted.removeAll() }
            return evicted.filter { records[$0] == nil }
        }

        /// The records changed since the last save, to save now (never an ephemeral one: it leaves
        /// no record), and forgets that they changed; a failed save marks them changed again.
        mutating func takeChanged() -> [PersistedClient] {
            var changed: [PersistedClient] = []
            changed.reserveCapacity(dirty.count)
            for id in dirty {
                guard let index = records.index(forKey: id), !records.values[index].ephemeral else { continue }
                let saved = records.values[index].persisted
                records.values[index].savedLastSeen = saved.lastSeen
                changed.append(saved)
            }
            dirty.removeAll(keepingCapacity: true)
            return changed
        }

        /// Folds every attached session's progress into its client record.
        mutating func syncSessions(now time: Date, ackTimeout: Double, recordTTL: Double) {
            for session in sessions.values {
                // In place, not copied out and back: this runs for every attached client.
                guard let index = records.index(forKey: session.clientID) else { continue }
                if records.values[index].sync(from: session, now: time, ackTimeout: ackTimeout, recordTTL: recordTTL) { dirty.insert(session.clientID) }
            }
        }
    }

    // MARK: Reading

    /// The record of `id`, if the table holds one.
    func record(_ id: String) -> ClientRecord? {
        entries.withLock { $0.records[id] }
    }

    /// Every record that is not ephemeral, with attached sessions' progress as of `time` folded
    /// in first.
    func persistentRecords(now time: Date) -> [ClientRecord] {
        entries.withLock { table in
            table.syncSessions(now: time, ackTimeout: configuration.ackTimeout, recordTTL: configuration.clientRecordTTL)
            return table.records.values.filter { !$0.ephemeral }
        }
    }

    /// How many clients are in each (state, transport), for gauges. O(clients), no allocation
    /// per client beyond the result.
    func connectionCounts() -> [ConnectionCount] {
        entries.withLock { table in
            var counts: [ConnectionCount: Int] = [:]
            for record in table.records.values where !record.ephemeral {
                counts[ConnectionCount(state: record.state, transport: record.transport, count: 0), default: 0] += 1
            }
            return counts.map { key, value in ConnectionCount(state: key.state, transport: key.transport, count: value) }
                .sorted { ($0.state.rawValue, $0.transport) < ($1.state.rawValue, $1.transport) }
        }
    }

    // MARK: Across relays

    /// Whether `id` has a session attached here, and whether the table holds its record at all.
    func presence(of id: String) -> (attached: Bool, known: Bool) {
        entries.withLock { ($0.records[id]?.sessionID != nil, $0.records[id] != nil) }
    }

    /// Takes a record loaded from the shared store into the table, unless the table's own is
    /// attached or changed more recently.
    func adopt(_ saved: PersistedClient) {
        entries.withLock { table in
            // Attached meanwhile (a racing hello on this relay): its record is newer than the saved one.
            // Keep a record this relay changed more recently than the saved one (not yet saved).
            if let current = table.records[saved.id] {
                guard current.sessionID == nil, current.secret.digest != saved.secretDigest || saved.lastSeen >= current.persisted.lastSeen else { return }
            }
            table.records[saved.id] = ClientRecord(restoring: saved)
        }
    }

    /// The session attached here for `claim`'s client under an older claim than `claim`, if any.
    func session(supersededBy claim: ConnectionClaim) -> Session? {
        entries.withLock { table -> Session? in
            guard let sessionID = table.records[claim.clientID]?.sessionID, let session = table.sessions[sessionID] else { return nil }
            let generation = session.generation
            return generation != 0 && generation < claim.generation ? session : nil
        }
    }

    /// The ids of the attached sessions that hold a claim across relays.
    func claimedClientIDs() -> [String] {
        entries.withLock { table in
            table.sessions.values.compactMap { session in session.generation == 0 ? nil : session.clientID }
        }
    }

    // MARK: Saving

    /// Takes records loaded from a durable store at start.
    func restore(_ saved: [PersistedClient]) {
        entries.withLock { table in
            for client in saved { table.records[client.id] = ClientRecord(restoring: client) }
        }
    }

    /// Folds attached sessions' progress into their records, and takes the records changed since
    /// the last save (see ``Entries/takeChanged()``).
    func takeChanged() -> [PersistedClient] {
        let time = now()
        return entries.withLock { table in
            table.syncSessions(now: time, ackTimeout: configuration.ackTimeout, recordTTL: configuration.clientRecordTTL)
            return table.takeChanged()
        }
    }

    /// Everything not saved yet, for the last save of a clean stop: the records changed since the
    /// last save and the ids evicted since the last sweep (see ``sweep(now:head:)``).
    func takeUnsaved() -> (changed: [PersistedClient], forgotten: [String]) {
        let time = now()
        return entries.withLock { table in
            table.syncSessions(now: time, ackTimeout: configuration.ackTimeout, recordTTL: configuration.clientRecordTTL)
            let forgotten = table.takeEvicted()
            return (table.takeChanged(), forgotten)
        }
    }

    /// A save of `changed` failed: the records still held are saved again by the next save.
    func markChanged(_ changed: [PersistedClient]) {
        entries.withLock { table in
            for client in changed where table.records[client.id] != nil { table.dirty.insert(client.id) }
        }
    }

    // MARK: A session's own record

    /// Applies `body` to the session's client record if the session is still the attached one.
    func updateRecord(of session: Session, _ body: (inout ClientRecord) -> Transition?) {
        let transition = entries.withLock { table -> Transition? in
            // In place, not copied out and back: a ping's round trip lands here for every client.
            guard let index = table.records.index(forKey: session.clientID), table.records.values[index].sessionID == session.id else { return nil }
            let transition = body(&table.records.values[index])
            // A state change is saved at the next sweep; a ping's new activity time only once the
            // saved one is old enough (``ClientRecord/lastSeenNeedsSave(recordTTL:)``).
            if transition != nil || table.records.values[index].lastSeenNeedsSave(recordTTL: configuration.clientRecordTTL) {
                table.dirty.insert(session.clientID)
            }
            return transition
        }
        if let transition { emit([transition]) }
    }

    /// Detaches a session: its client goes `disconnected` and keeps its cursor for the record TTL
    /// (an ephemeral client's record goes with it).
    func detach(_ session: Session, reason: String) {
        let time = now()
        let transition = entries.withLock { table -> Transition? in
            guard table.sessions.removeValue(forKey: session.id) != nil,
                var record = table.records[session.clientID], record.sessionID == session.id
            else { return nil }
            session.drainProgress(into: &record, now: time, ackTimeout: configuration.ackTimeout)
            let before = record.state
            let lasted = record.connectedSince.map { time.timeIntervalSince($0) } ?? 0
            if let since = record.connectedSince { record.connectedSeconds += time.timeIntervalSince(since) }
            record.connectedSince = nil
            record.disconnectedAt = time
            record.sessionID = nil
            record.state = .disconnected
            if record.ephemeral {
                // Nothing to resume: the record goes with its only connection.
                table.records[record.id] = nil
                table.dirty.remove(record.id)
                return Transition(event: .disconnected, record: record, previous: before, sessionID: session.id, message: "ephemeral client \(record.id) disconnected after \(Self.formatSpan(lasted)): \(reason); no record kept", seq: record.ackedSeq, reason: reason)
            }
            table.records[record.id] = record
            table.dirty.insert(record.id)
            return Transition(event: .disconnected, record: record, previous: before, sessionID: session.id, message: "client \(record.id) disconnected after \(Self.formatSpan(lasted)): \(reason)", seq: record.ackedSeq, reason: reason)
        }
        if let transition { emit([transition]) }
    }

    // MARK: Logging

    /// Logs each transition as one entry carrying the client's identity and state.
    func emit(_ transitions: [Transition]) {
        let time = now()
        for transition in transitions {
            let record = transition.record
            var metadata: Logger.Metadata = [
                LogKey.event: "\(transition.event.rawValue)",
                LogKey.clientID: "\(record.id)",
                LogKey.transport: "\(record.transport)",
                LogKey.state: "\(record.state.rawValue)",
                LogKey.remote: "\(record.remote)",
                LogKey.quality: "\(Self.format(record.quality(now: time, configuration: configuration)))",
            ]
            if let session = transition.sessionID ?? record.sessionID { metadata[LogKey.connectionID] = "\(session)" }
            if let previous = transition.previous { metadata[LogKey.previousState] = "\(previous.rawValue)" }
            if let seq = transition.seq { metadata[LogKey.seq] = "\(seq)" }
            if let reason = transition.reason { metadata[LogKey.reason] = "\(reason)" }
            if let rtt = record.rttSeconds { metadata[LogKey.latencyMilliseconds] = "\(Self.format(rtt * 1000))" }
            let level: Logger.Level = switch transition.event {
            case .resumeRefused, .slowConsumer, .replayGap, .stale: .warning
            default: .info
            }
            logger.log(level: level, "\(transition.message)", metadata: metadata)
        }
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return "\(scaled)"
    }

    /// A connection's duration for a log message: `0.4 s`, `12 s`, `3 min 5 s`.
    static func formatSpan(_ seconds: Double) -> String {
        if seconds < 10 { return "\((seconds * 10).rounded() / 10) s" }
        let whole = Int(seconds.rounded())
        return whole < 120 ? "\(whole) s" : "\(whole / 60) min \(whole % 60) s"
    }
}

/// One state change of a client, as the ``ClientTable`` logs it.
struct Transition: Sendable {
    var event: ConnectionEvent
    var record: ClientRecord
    var previous: ConnectionState?
    var sessionID: UInt64?
    var message: String
    var seq: UInt64?
    /// Why the connection ended or the hello was refused (the `TETHER_REASON` field).
    var reason: String?
}
