import struct Foundation.Date

extension Relay {
    /// The stats as of now. Walks the client table once: O(clients).
    public func stats() -> RelayStats {
        let time = now()
        let state = logState
        let records = clients.persistentRecords(now: time)
        let clientStats = records.sorted { $0.id < $1.id }.map { record in
            RelayStats.Client(
                id: record.id, state: record.state.rawValue, transport: record.transport, remote: record.remote,
                quality: record.quality(now: time, configuration: configuration),
                latencyMilliseconds: record.rttSeconds.map { $0 * 1000 },
                lag: state.head > record.progressSeq ? state.head - record.progressSeq : 0,
                connectedSince: record.connectedSince, firstSeen: record.firstSeen, reconnects: record.reconnects,
                lastAck: record.ackedSeq, lastAckAt: record.lastAckAt, delivered: record.delivered, acked: record.acked
            )
        }
        let active = clientStats.filter { $0.state == ConnectionState.connected.rawValue }
        let c = counters
        return RelayStats(
            totals: RelayStats.Totals(
                connections: clientStats.count, active: active.count,
                published: c.published.load(ordering: .relaxed), delivered: c.delivered.load(ordering: .relaxed),
                acked: c.acked.load(ordering: .relaxed), replayed: c.replayed.load(ordering: .relaxed),
                dropped: Dictionary(uniqueKeysWithValues: GapReason.allCases.map { ($0.rawValue, c.dropped($0)) }),
                refused: c.refused,
                expired: c.expired.load(ordering: .relaxed), evicted: c.evicted.load(ordering: .relaxed),
                reconnects: c.reconnects.load(ordering: .relaxed),
                averageQuality: clientStats.isEmpty ? nil : clientStats.map(\.quality).reduce(0, +) / Double(clientStats.count),
                headSequence: state.head, oldestSequence: state.oldest, epoch: state.epoch.rawValue,
                bufferDepthEvents: state.depthEvents, bufferDepthBytes: state.depthBytes
            ),
            clients: clientStats
        )
    }
}

extension Relay {
    /// How many clients are in each (state, transport), for gauges. O(clients), no allocation
    /// per client beyond the result.
    public func connectionCounts() -> [ConnectionCount] {
        clients.connectionCounts()
    }
}
