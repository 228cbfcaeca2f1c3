public import TetherCore
import Foundation
import PostgresNIO

/// Client records in `tether_clients`, shared by every relay: a client may resume on any of them.
///
/// Relays save records in their health sweeps, so two relays may hold different versions of
/// one client; a save never replaces a newer record (`last_seen`), and a delete only removes a
/// record nobody has seen for the retention TTL.
extension PostgresBufferStore {
    public func loadClients() async throws -> [PersistedClient] {
        try await fetchClients(where: nil)
    }

    public func loadClient(_ id: String) async throws -> PersistedClient? {
        try await fetchClients(where: id).first
    }

    public func saveClients(_ clients: [PersistedClient]) async throws {
        guard !clients.isEmpty else { return }
        let logger = self.logger
        try await run("save client records") { connection in
            _ = try await connection.query(
                """
                INSERT INTO tether_clients (id, secret_digest, epoch, acked_seq, first_seen, last_seen, reconnects, delivered, acked, transport)
                SELECT * FROM unnest(\(clients.map(\.id))::text[], \(clients.map(\.secretDigest))::text[], \(clients.map(\.epoch))::text[],
                    \(clients.map { Int64(clamping: $0.ackedSeq) })::int8[], \(clients.map { $0.firstSeen.timeIntervalSince1970 })::float8[],
                    \(clients.map { $0.lastSeen.timeIntervalSince1970 })::float8[], \(clients.map { Int64($0.reconnects) })::int8[],
                    \(clients.map { Int64(clamping: $0.delivered) })::int8[], \(clients.map { Int64(clamping: $0.acked) })::int8[],
                    \(clients.map(\.transport))::text[])
                ON CONFLICT (id) DO UPDATE SET secret_digest = EXCLUDED.secret_digest, epoch = EXCLUDED.epoch,
                    acked_seq = EXCLUDED.acked_seq, last_seen = EXCLUDED.last_seen, reconnects = EXCLUDED.reconnects,
                    delivered = EXCLUDED.delivered, acked = EXCLUDED.acked, transport = EXCLUDED.transport
                WHERE tether_clients.last_seen <= EXCLUDED.last_seen
                """,
                logger: logger
            )
        }
    }

    public func deleteClients(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        let logger = self.logger
        let cutoff = Date().timeIntervalSince1970 - configuration.retention.ttl
        try await run("delete client records") { connection in
            _ = try await connection.query("DELETE FROM tether_clients WHERE id = ANY(\(ids)) AND last_seen < \(cutoff)", logger: logger)
        }
    }

    private func fetchClients(where id: String?) async throws -> [PersistedClient] {
        let logger = self.logger
        return try await run("load client records") { connection in
            let columns = "id, secret_digest, epoch, acked_seq, first_seen, last_seen, reconnects, delivered, acked, transport"
            let rows: PostgresRowSequence
            if let id {
                rows = try await connection.query("SELECT \(unescaped: columns) FROM tether_clients WHERE id = \(id)", logger: logger)
            } else {
                rows = try await connection.query("SELECT \(unescaped: columns) FROM tether_clients", logger: logger)
            }
            var found: [PersistedClient] = []
            for try await row in rows.decode((String, String, String, Int64, Double, Double, Int64, Int64, Int64, String).self) {
                found.append(
                    PersistedClient(
                        id: row.0, secretDigest: row.1, epoch: row.2, ackedSeq: UInt64(row.3),
                        firstSeen: Date(timeIntervalSince1970: row.4), lastSeen: Date(timeIntervalSince1970: row.5),
                        reconnects: Int(row.6), delivered: UInt64(row.7), acked: UInt64(row.8), transport: row.9
                    )
                )
            }
            return found
        }
    }
}
