public import TetherCore
import Foundation
import GRDB

/// Client records in the `clients` table, so client ids, the digests of their resume secrets
/// and their cursors survive a restart: a client resumes across it, and its id stays bound to
/// its secret. Counters wider than SQLite's signed 64-bit integers are stored by bit pattern.
extension SQLiteBufferStore {
    public func loadClients() async throws -> [PersistedClient] {
        try await database().read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, secret_digest, epoch, acked_seq, first_seen, last_seen, reconnects, delivered, acked, transport
                    FROM clients ORDER BY id
                    """
            ).map { row in
                PersistedClient(
                    id: row[0], secretDigest: row[1], epoch: row[2], ackedSeq: UInt64(bitPattern: row[3]),
                    firstSeen: Date(timeIntervalSince1970: row[4]), lastSeen: Date(timeIntervalSince1970: row[5]),
                    reconnects: row[6], delivered: UInt64(bitPattern: row[7]), acked: UInt64(bitPattern: row[8]),
                    transport: row[9]
                )
            }
        }
    }

    /// Inserts or replaces `clients` in one transaction.
    public func saveClients(_ clients: [PersistedClient]) async throws {
        guard !clients.isEmpty else { return }
        try await database().write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO clients
                    (id, secret_digest, epoch, acked_seq, first_seen, last_seen, reconnects, delivered, acked, transport)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            )
            for client in clients {
                try statement.execute(arguments: [
                    client.id, client.secretDigest, client.epoch, Int64(bitPattern: client.ackedSeq),
                    client.firstSeen.timeIntervalSince1970, client.lastSeen.timeIntervalSince1970, client.reconnects,
                    Int64(bitPattern: client.delivered), Int64(bitPattern: client.acked), client.transport,
                ])
            }
        }
    }

    public func deleteClients(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await database().write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM clients WHERE id = ?")
            for id in ids { try statement.execute(arguments: [id]) }
        }
    }
}
