public import struct Foundation.Date
public import class Foundation.JSONEncoder

/// A point-in-time summary of the relay for humans and dashboards (`/v1/stats`): the seed's
/// `get_connection_stats` and more. Per-client detail lives here, never in metric labels.
public struct RelayStats: Sendable, Codable, Hashable {
    public struct Totals: Sendable, Codable, Hashable {
        public var connections: Int
        public var active: Int
        public var published: UInt64
        public var delivered: UInt64
        public var acked: UInt64
        public var replayed: UInt64
        public var dropped: [String: UInt64]
        /// Bad input refused by transports, by error code.
        public var refused: [String: UInt64]
        public var expired: UInt64
        public var evicted: UInt64
        public var reconnects: UInt64
        public var averageQuality: Double?
        public var headSequence: UInt64
        public var oldestSequence: UInt64
        public var epoch: String
        public var bufferDepthEvents: Int
        public var bufferDepthBytes: Int
    }

    public struct Client: Sendable, Codable, Hashable {
        public var id: String
        public var state: String
        public var transport: String
        public var remote: String
        public var quality: Double
        public var latencyMilliseconds: Double?
        /// Events between the client's acknowledged cursor and the head.
        public var lag: UInt64
        public var connectedSince: Date?
        public var firstSeen: Date
        public var reconnects: Int
        public var lastAck: UInt64
        public var lastAckAt: Date?
        public var delivered: UInt64
        public var acked: UInt64
    }

    public var totals: Totals
    public var clients: [Client]
}

extension Relay {
    /// The stats as of now. Walks the client table once: O(clients).
    public func stats() -> RelayStats {
        let time = now()
        let state = logState
        let records = clients.withLock { table in
            table.syncSessions(now: time)
            return table.records.values.filter { !$0.ephemeral }
        }
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

extension RelayStats {
    /// The stats as JSON, as `/v1/stats` and the WebSocket `stats` reply send them: snake_case
    /// keys, ISO 8601 dates, keys sorted so that output is stable.
    public func jsonBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }
}

extension Relay {
    /// How many clients are in each (state, transport), for gauges. O(clients), no allocation
    /// per client beyond the result.
    public func connectionCounts() -> [ConnectionCount] {
        clients.withLock { table in
            var counts: [ConnectionCount: Int] = [:]
            for record in table.records.values where !record.ephemeral {
                counts[ConnectionCount(state: record.state, transport: record.transport, count: 0), default: 0] += 1
            }
            return counts.map { key, value in ConnectionCount(state: key.state, transport: key.transport, count: value) }
                .sorted { ($0.state.rawValue, $0.transport) < ($1.state.rawValue, $1.transport) }
        }
    }
}

/// The number of clients in one state over one transport.
public struct ConnectionCount: Sendable, Hashable {
    public var state: ConnectionState
    public var transport: String
    public var count: Int
}
