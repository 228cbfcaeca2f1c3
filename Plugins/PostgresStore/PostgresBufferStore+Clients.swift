public import TetherCore
import Foundation
import PostgresNIO

/// Client records in `tether_clients`, shared by every relay: a client may resume on any of them.
///
/// A new id is bound to its secret by ``bindClient(_:)``, a compare-and-set (`INSERT ... ON
/// CONFLICT DO NOTHING`, then the row is read back): the first relay to bind an id wins, and no
/// later save replaces the secret (a save for an id bound to another secret changes nothing).
/// Relays save positions often and whole records in their health sweeps, so two relays may
/// hold different versions of one client; a save never replaces a newer record (`last_seen`),
/// and a delete only removes a record nobody has seen for the retention TTL.
///
/// Each attach claims the id (``claimConnection(_:)``): the row's `generation` goes up by one and
/// every relay hears `c <generation> <id>` on the head channel.
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
                ON CONFLICT (id) DO UPDATE SET epoch = EXCLUDED.epoch,
                    acked_seq = EXCLUDED.acked_seq, last_seen = EXCLUDED.last_seen, reconnects = EXCLUDED.reconnects,
                    delivered = EXCLUDED.delivered, acked = EXCLUDED.acked, transport = EXCLUDED.transport
                WHERE tether_clients.last_seen <= EXCLUDED.last_seen AND tether_clients.secret_digest = EXCLUDED.secret_digest
                """,
                logger: logger
            )
        }
    }

    public func bindClient(_ client: PersistedClient) async throws -> PersistedClient {
        let logger = self.logger
        let bound = try await run("bind a client id") { connection -> Bool in
            let rows = try await connection.query(
                """
                INSERT INTO tether_clients (id, secret_digest, epoch, acked_seq, first_seen, last_seen, reconnects, delivered, acked, transport)
                VALUES (\(client.id), \(client.secretDigest), \(client.epoch), \(Int64(clamping: client.ackedSeq)), \(client.firstSeen.timeIntervalSince1970),
                    \(client.lastSeen.timeIntervalSince1970), \(Int64(client.reconnects)), \(Int64(clamping: client.delivered)), \(Int64(clamping: client.acked)), \(client.transport))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """,
                logger: logger
            )
            var inserted = false
            for try await _ in rows.decode(String.self) { inserted = true }
            return inserted
        }
        if bound { return client }
        // Bound before: the stored record decides (its secret may be this very one, a client
        // retrying its own first hello).
        guard let stored = try await loadClient(client.id) else {
            // Deleted between the insert and the read (expired): bind it now.
            return try await bindClient(client)
        }
        return stored
    }

    public func claimConnection(_ clientID: String) async throws -> UInt64 {
        let logger = self.logger
        return try await run("claim a client id") { connection in
            let rows = try await connection.query(
                """
                WITH claimed AS (UPDATE tether_clients SET generation = generation + 1 WHERE id = \(clientID) RETURNING generation)
                SELECT generation, pg_notify(\(PostgresSchema.channel), 'c ' || generation || ' ' || \(clientID))::text FROM claimed
                """,
                logger: logger
            )
            var generation: UInt64 = 0
            for try await (value, _) in rows.decode((Int64, String).self) { generation = UInt64(value) }
            return generation
        }
    }

    public func connectionGenerations(_ clientIDs: [String]) async throws -> [String: UInt64] {
        guard !clientIDs.isEmpty else { return [:] }
        let logger = self.logger
        return try await run("read client claims") { connection in
            let rows = try await connection.query("SELECT id, generation FROM tether_clients WHERE id = ANY(\(clientIDs))", logger: logger)
            var found: [String: UInt64] = [:]
            for try await (id, generation) in rows.decode((String, Int64).self) { found[id] = UInt64(generation) }
            return found
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
