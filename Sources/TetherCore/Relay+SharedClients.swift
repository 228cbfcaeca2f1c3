/// Client records over a shared log: a client may resume on any relay, so the store, not this
/// relay's memory, is the authority on a client that is not connected here.
extension Relay {
    /// Before a hello is checked: when the store is shared and keeps client records, and the
    /// named client is not attached to this relay, (re)load its record from the store, so that a
    /// client bound or moved on another relay resumes here with its secret and newest cursor.
    ///
    /// A store that is not shared had every record loaded at start, so a miss there is final and
    /// costs no lookup. A failed lookup is logged and the hello is judged on what is in memory.
    func refreshSharedClient(_ id: String?) async {
        guard let id, store is any SharedLogStore, let durable = store as? any ClientRecordStore else { return }
        let attached = clients.withLock { $0.records[id]?.sessionID != nil }
        guard !attached else { return }
        let saved: PersistedClient?
        do {
            saved = try await durable.loadClient(id)
        } catch {
            logger.warning("could not look up a client record in the shared store", metadata: [LogKey.clientID: "\(id)", "error": "\(error)"])
            return
        }
        guard let saved else { return }
        clients.withLock { table in
            // Attached meanwhile (a racing hello on this relay): its record is newer than the saved one.
            // Keep a record this relay changed more recently than the saved one (not yet saved).
            if let current = table.records[id] {
                guard current.sessionID == nil, saved.lastSeen >= current.persisted.lastSeen else { return }
            }
            table.records[id] = ClientRecord(restoring: saved)
        }
    }
}
