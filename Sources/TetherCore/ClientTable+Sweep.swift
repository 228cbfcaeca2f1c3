import struct Foundation.Date

extension ClientTable {
    /// Marks silent sessions stale and forgets disconnected clients past their record TTL, and
    /// observes every attached client's quality and lag behind `head` (the fan-out's, read by the
    /// caller: the table never takes the fan-out's lock). Returns the records changed since the
    /// last sweep and the ids forgotten, for saving.
    func sweep(now time: Date, head: UInt64) -> (changed: [PersistedClient], forgotten: [String]) {
        let (transitions, changed, forgotten) = entries.withLock { table -> ([Transition], [PersistedClient], [String]) in
            var transitions: [Transition] = []
            var forgotten = table.takeEvicted()
            table.syncSessions(now: time, ackTimeout: configuration.ackTimeout, recordTTL: configuration.clientRecordTTL)
            // In place: a sweep visits every record every few seconds, and copying each out
            // and back (strings, arrays and all) was most of an idle relay's sweep cost. Each
            // record is swept by a mutating call through the values' subscript, which works on
            // the stored record; a record is copied only for a transition's log entry.
            // (A plain index walk: `indices` would hold a second reference to the storage and
            // make the first write copy the whole table.)
            var expired: [String] = []
            var index = table.records.values.startIndex
            while index != table.records.values.endIndex {
                defer { table.records.values.formIndex(after: &index) }
                switch table.records.values[index].sweep(now: time, head: head, configuration: configuration, histograms: histograms) {
                case .unchanged:
                    break
                case .wentStale:
                    let record = table.records.values[index]
                    if let id = record.sessionID { table.sessions[id]?.markStale() }
                    transitions.append(Transition(event: .stale, record: record, previous: .connected, message: "client \(record.id) went stale: no traffic for \(Int(configuration.staleTimeout)) s", reason: "no traffic for \(Int(configuration.staleTimeout)) s"))
                case .expired:
                    expired.append(table.records.keys[index])
                }
            }
            for id in expired {
                guard let record = table.records.removeValue(forKey: id) else { continue }
                table.dirty.remove(id)
                forgotten.append(id)
                transitions.append(Transition(event: .forgotten, record: record, message: "client \(record.id)'s record expired after \(Int(configuration.clientRecordTTL)) s disconnected; its id can be claimed anew"))
            }
            return (transitions, table.takeChanged(), forgotten)
        }
        emit(transitions)
        return (changed, forgotten)
    }
}

extension ClientRecord {
    /// What one sweep did to a record.
    enum SweepOutcome {
        case unchanged
        /// Connected, silent for the stale timeout: now stale.
        case wentStale
        /// Disconnected for longer than the record TTL: to be forgotten.
        case expired
    }

    /// One sweep of this record, in place: forgets old reconnects, marks a silent connection
    /// stale, and observes an attached client's quality and lag behind `head`.
    mutating func sweep(now time: Date, head: UInt64, configuration: RelayConfiguration, histograms: RelayHistograms) -> SweepOutcome {
        forgetOldReconnects(now: time, window: configuration.reconnectWindow)
        var outcome = SweepOutcome.unchanged
        switch state {
        case .connected where time.timeIntervalSince(lastActivity) >= configuration.staleTimeout:
            state = .stale
            outcome = .wentStale
        case .disconnected:
            if let since = disconnectedAt, time.timeIntervalSince(since) >= configuration.clientRecordTTL { return .expired }
        default:
            break
        }
        if state.isAttached {
            histograms.quality.observe(quality(now: time, configuration: configuration))
            histograms.clientLag.observe(Double(head > progressSeq ? head - progressSeq : 0))
        }
        return outcome
    }

    /// Folds `session`'s progress into this record if the session is the attached one; true
    /// when the acknowledged position or the delivered count moved, or the last activity moved
    /// past the saved `lastSeen` by its save interval (the record is to be saved).
    mutating func sync(from session: Session, now time: Date, ackTimeout: Double, recordTTL: Double) -> Bool {
        guard sessionID == session.id else { return false }
        let before = (ackedSeq, delivered)
        session.drainProgress(into: &self, now: time, ackTimeout: ackTimeout)
        return (ackedSeq, delivered) != before || lastSeenNeedsSave(recordTTL: recordTTL)
    }
}
