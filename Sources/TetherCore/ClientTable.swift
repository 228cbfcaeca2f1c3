import Logging
import struct Foundation.Date

/// Every client the relay knows, by id, and the sessions attached now. Owned by the relay's
/// client lock.
struct ClientTable: ~Copyable {
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

    /// The records changed since the last save, to save now (never an ephemeral one: it leaves
    /// no record), and forgets that they changed; a failed save marks them changed again.
    mutating func takeChanged() -> [PersistedClient] {
        let changed = dirty.compactMap { records[$0] }.filter { !$0.ephemeral }.map(\.persisted)
        dirty.removeAll(keepingCapacity: true)
        return changed
    }

    /// Folds every attached session's progress into its client record.
    mutating func syncSessions(now time: Date) {
        for session in sessions.values {
            guard var record = records[session.clientID], record.sessionID == session.id else { continue }
            let before = (record.ackedSeq, record.delivered)
            session.drainProgress(into: &record, now: time)
            if (record.ackedSeq, record.delivered) != before { dirty.insert(record.id) }
            records[record.id] = record
        }
    }
}

/// One state change of a client, as the relay logs it.
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
