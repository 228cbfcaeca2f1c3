import TetherCore
import Foundation
import PostgresNIO

/// The single `tether_log` row: the log's epoch, head counter, oldest retained seq, depth and trim
/// history. Trims and evictions read it `FOR UPDATE` and write it back in the same transaction;
/// appends lock and advance it inside `tether_append` (``PostgresSchema/appendFunction``).
struct LogRow {
    var epoch: String
    var head: UInt64
    var oldest: UInt64
    var depthEvents: Int
    var depthBytes: Int
    var trims: TrimHistory

    var state: LogState {
        LogState(epoch: Epoch(rawValue: epoch), head: head, oldest: oldest, depthEvents: depthEvents, depthBytes: depthBytes, trims: trims)
    }

    /// Locks the row until the transaction ends: the next writer waits, which is what orders
    /// commits by sequence number across relays.
    static func lock(on connection: PostgresConnection, logger: Logger) async throws -> LogRow {
        try await fetch(connection.query("SELECT epoch, head, oldest, depth_events, depth_bytes, trims FROM tether_log WHERE id = 1 FOR UPDATE", logger: logger))
    }

    static func read(on connection: PostgresConnection, logger: Logger) async throws -> LogRow {
        try await fetch(connection.query("SELECT epoch, head, oldest, depth_events, depth_bytes, trims FROM tether_log WHERE id = 1", logger: logger))
    }

    private static func fetch(_ rows: PostgresRowSequence) async throws -> LogRow {
        for try await (epoch, head, oldest, events, bytes, trims) in rows.decode((String, Int64, Int64, Int64, Int64, String).self) {
            return LogRow(epoch: epoch, head: UInt64(head), oldest: UInt64(oldest), depthEvents: Int(events), depthBytes: Int(bytes), trims: Self.trims(trims))
        }
        throw PostgresStoreError(.corrupt, "the tether_log row is missing; was the table emptied by hand? Drop the tether_* tables to start a new log")
    }

    /// The `trims` column's JSON as a history (empty when unreadable).
    static func trims(_ text: String) -> TrimHistory {
        (try? JSONDecoder().decode(TrimHistory.self, from: Data(text.utf8))) ?? TrimHistory()
    }

    func save(on connection: PostgresConnection, logger: Logger) async throws {
        let trimsText = String(decoding: try JSONEncoder().encode(trims), as: UTF8.self)
        _ = try await connection.query(
            """
            UPDATE tether_log SET head = \(Int64(head)), oldest = \(Int64(oldest)), depth_events = \(Int64(depthEvents)),
                depth_bytes = \(Int64(depthBytes)), trims = \(trimsText)
            WHERE id = 1
            """,
            logger: logger
        )
    }
}
