import struct Foundation.Date

extension ClientTable {
    /// Binds `session` to its client record, atomically with the identity check: of two hellos
    /// that both found a new id free, the first to get here binds it and the other is refused
    /// unless it holds the secret just bound (the same client racing itself). A session of the
    /// same client attached before is detached here and returned, for the caller to end.
    ///
    /// - Parameters:
    ///   - claimed: the record the hello was judged on (``Relay/subscribe(_:transport:remote:)``).
    ///   - known: whether the hello resumes a known client (`false`: a new id).
    /// - Returns: the transitions to log (the caller logs them once the attach is complete) and
    ///   the displaced session, or `nil` when the id was bound meanwhile by another client.
    func attach(
        _ session: Session, claimed: ClientRecord, known: Bool, plan: ReplayPlan, epoch: Epoch,
        transport: String, remote: String, now time: Date
    ) -> (transitions: [Transition], displaced: Session?)? {
        entries.withLock { table -> (transitions: [Transition], displaced: Session?)? in
            var transitions: [Transition] = []
            // Re-read: the record may have changed since the claim (another session of this id).
            if !known, let other = table.records[claimed.id], other.secret != claimed.secret {
                return nil
            }
            if table.records[claimed.id] == nil {
                let evicted = table.makeRoom(cap: configuration.admission.maxClientRecords)
                if !evicted.isEmpty {
                    counters.clientRecordsEvicted.add(UInt64(evicted.count), ordering: .relaxed)
                    transitions.append(Transition(
                        event: .forgotten, record: evicted[0],
                        message: "\(evicted.count) disconnected client records evicted, oldest first, to stay within limits.max-client-records (\(configuration.admission.maxClientRecords)); their ids can be claimed anew"
                    ))
                }
            }
            var record = table.records[claimed.id] ?? claimed
            var displaced: Session?
            let oldRemote = record.remote
            if let previous = record.sessionID, let old = table.sessions.removeValue(forKey: previous) {
                displaced = old
                old.drainProgress(into: &record, now: time, ackTimeout: configuration.ackTimeout)
                if record.connectedSince != nil { record.connectedSeconds += time.timeIntervalSince(record.connectedSince!) }
                transitions.append(Transition(event: .superseded, record: record, sessionID: previous, message: "client \(record.id)'s connection from \(oldRemote) superseded by a new connection of the same client", reason: "superseded by a new connection of the same client"))
            }
            // The new connection's transport and remote, before any entry of it is built.
            record.transport = transport
            record.remote = remote
            if known {
                record.countReconnect(now: time, window: configuration.reconnectWindow)
                let before = record.state
                record.state = .reconnecting
                transitions.append(Transition(event: .resumed, record: record, previous: before, sessionID: session.id, message: "client \(record.id) resumed after seq \(plan.startAfter) over \(transport) from \(remote)", seq: plan.startAfter))
            }
            let before = record.state
            record.state = .connected
            record.sessionID = session.id
            record.connectedSince = time
            record.disconnectedAt = nil
            record.lastActivity = time
            record.epoch = epoch
            record.deliveredSeq = plan.startAfter
            record.ackedSeq = plan.startAfter
            record.writtenSeq = plan.startAfter
            table.records[record.id] = record
            if !record.ephemeral { table.dirty.insert(record.id) }
            table.sessions[session.id] = session
            transitions.append(Transition(event: .connected, record: record, previous: before, sessionID: session.id, message: "client \(record.id) connected over \(transport) from \(remote)", seq: plan.head))
            if plan.reset {
                transitions.append(Transition(event: .reset, record: record, sessionID: session.id, message: "client \(record.id)'s sequence belongs to another log; told to reset and start over from seq \(plan.startAfter + 1)"))
            }
            if let gap = plan.gap {
                transitions.append(Transition(event: .replayGap, record: record, sessionID: session.id, message: "client \(record.id)'s replay has a gap: seq \(gap.from)...\(gap.to) (\(counted(gap.count, "event"))) not delivered, reason \(gap.reason.rawValue)", seq: gap.to, reason: "\(counted(gap.count, "event")) not delivered (\(gap.reason.rawValue))"))
            }
            return (transitions, displaced)
        }
    }
}
