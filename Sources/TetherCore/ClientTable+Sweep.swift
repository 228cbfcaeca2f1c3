import struct Foundation.Date

extension ClientTable {
    /// Marks silent sessions stale and forgets disconnected clients past their record TTL, and
    /// observes every attached client's quality and lag behind `head` (the fan-out's, read by the
    /// caller: the table never takes the fan-out's lock). Returns the records changed since the
    /// last sweep and the ids forgotten, for saving.
    func sweep(now time: Date, head: UInt64) -> (changed: [PersistedClient], forgotten: [String]) {
        let (transitions, changed, forgotten) = entries.withLock { table -> ([Transition], [PersistedClient], [String]) in
            var transitions: [Transition] = []
            // An evicted id claimed anew since is a live record again: the store keeps it.
            var forgotten = table.evicted.filter { table.records[$0] == nil }
            table.evicted.removeAll()
            table.syncSessions(now: time, ackTimeout: configuration.ackTimeout)
            for id in Array(table.records.keys) {
                guard var record = table.records[id] else { continue }
                record.forgetOldReconnects(now: time, window: configuration.reconnectWindow)
                if record.state == .connected, time.timeIntervalSince(record.lastActivity) >= configuration.staleTimeout {
                    record.state = .stale
                    if let id = record.sessionID { table.sessions[id]?.markStale() }
                    transitions.append(Transition(event: .stale, record: record, previous: .connected, message: "client \(record.id) went stale: no traffic for \(Int(configuration.staleTimeout)) s", reason: "no traffic for \(Int(configuration.staleTimeout)) s"))
                }
                if record.state == .disconnected, let since = record.disconnectedAt,
                    time.timeIntervalSince(since) >= configuration.clientRecordTTL
                {
                    table.records[id] = nil
                    table.dirty.remove(id)
                    forgotten.append(id)
                    transitions.append(Transition(event: .forgotten, record: record, message: "client \(record.id)'s record expired after \(Int(configuration.clientRecordTTL)) s disconnected; its id can be claimed anew"))
                    continue
                }
                table.records[id] = record
            }
            for record in table.records.values where record.state.isAttached {
                histograms.quality.observe(record.quality(now: time, configuration: configuration))
                histograms.clientLag.observe(Double(head > record.progressSeq ? head - record.progressSeq : 0))
            }
            return (transitions, table.takeChanged(), forgotten)
        }
        emit(transitions)
        return (changed, forgotten)
    }
}
