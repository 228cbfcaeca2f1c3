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

/// The number of clients in one state over one transport.
public struct ConnectionCount: Sendable, Hashable {
    public var state: ConnectionState
    public var transport: String
    public var count: Int
}
