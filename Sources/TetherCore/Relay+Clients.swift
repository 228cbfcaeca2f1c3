import Logging
import struct Foundation.Date

extension Relay {
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

    /// Marks silent sessions stale and forgets disconnected clients past their record TTL.
    /// Returns the records changed since the last sweep and the ids forgotten, for saving.
    func sweepClients(now time: Date) -> (changed: [PersistedClient], forgotten: [String]) {
        let head = logState.head  // read before taking the client lock: never the log lock inside it
        let (transitions, changed, forgotten) = clients.withLock { table -> ([Transition], [PersistedClient], [String]) in
            var transitions: [Transition] = []
            // An evicted id claimed anew since is a live record again: the store keeps it.
            var forgotten = table.evicted.filter { table.records[$0] == nil }
            table.evicted.removeAll()
            table.syncSessions(now: time)
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
