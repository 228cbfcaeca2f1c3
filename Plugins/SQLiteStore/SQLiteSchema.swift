import GRDB
import TetherCore
import Foundation

/// The database layout and the one-row `meta` table that makes start-up O(1) in the log's size.
///
/// Invariants kept by every write transaction of ``SQLiteBufferStore``:
/// - `events` holds exactly the retained sequence numbers `oldest...head`, with no hole (the store
///   assigns each new seq to an inserted row and trims only from the old end);
/// - `meta.head`, `meta.depth_events` and `meta.depth_bytes` describe `events` as committed, so
///   nothing at start-up scans or loads the log; `oldest` is `min(seq)`, one index lookup;
/// - `meta.epoch` is written once, when the log is created, and never changes afterwards;
/// - `PRAGMA user_version` holds the file's ``Mark``.
enum SQLiteSchema {
    /// Bumped when the layout changes; a database from a newer Tether is refused, not rewritten.
    static let version = 1

    static let create = """
        CREATE TABLE meta (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            schema_version INTEGER NOT NULL,
            epoch TEXT NOT NULL,
            head INTEGER NOT NULL,
            depth_events INTEGER NOT NULL,
            depth_bytes INTEGER NOT NULL,
            trims TEXT NOT NULL,
            created REAL NOT NULL
        );
        -- Columns read by trims (seq, time, bytes) come first, so a trim never reads payloads.
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            bytes INTEGER NOT NULL,
            topic TEXT NOT NULL,
            producer_id TEXT,
            data BLOB NOT NULL
        );
        -- Idempotent publish within retention: a producer id names at most one retained event.
        CREATE UNIQUE INDEX events_producer_id ON events(producer_id) WHERE producer_id IS NOT NULL;
        CREATE TABLE clients (
            id TEXT PRIMARY KEY,
            secret_digest TEXT NOT NULL,
            epoch TEXT NOT NULL,
            acked_seq INTEGER NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            reconnects INTEGER NOT NULL,
            delivered INTEGER NOT NULL,
            acked INTEGER NOT NULL,
            transport TEXT NOT NULL
        );
        """

    /// What `PRAGMA user_version` (offset 60 of the file's header) says about the main file:
    /// whether it alone holds the whole log. Written in the same way as any other change, so the
    /// main file carries `closed` only once a checkpoint copied everything into it.
    enum Mark: Int {
        /// Written by a Tether from before the mark existed: nothing is known.
        case unknown = 0
        /// A relay stopped cleanly (or `tether backup` wrote it): the main file is the whole log.
        case closed = 1
        /// A relay has it open, or had it open when it died or was copied: the newest commits
        /// may be only in `-wal`, so the main file alone is not the log.
        case open = 2
    }

    /// Creates a new log at `path` atomically: the layout and its meta row are written to a side
    /// file in rollback-journal mode, fsynced, and renamed into place. So a `tether.sqlite`
    /// never exists without its schema, and one that holds no log was damaged or copied without
    /// its `-wal`: ``SQLiteFileCheck`` refuses it instead of starting a new epoch over it.
    static func createFile(at path: String) throws {
        let partial = path + ".new"
        for leftover in [partial, partial + "-journal"] { try? FileManager.default.removeItem(atPath: leftover) }
        let queue = try DatabaseQueue(path: partial)
        try queue.write { db in
            try db.execute(sql: create)
            try db.execute(
                sql: "INSERT INTO meta (id, schema_version, epoch, head, depth_events, depth_bytes, trims, created) VALUES (1, ?, ?, 0, 0, 0, ?, ?)",
                arguments: [version, Epoch.random().rawValue, try encode(TrimHistory()), Date().timeIntervalSince1970]
            )
            try db.execute(sql: "PRAGMA user_version = \(Mark.closed.rawValue)")
        }
        try queue.close()
        try DurableFile.sync(partial)
        try DurableFile.rename(partial, to: path)
    }

    /// Reads where the log in `db` stands, or `nil` when the database holds no table at all.
    ///
    /// - Throws: ``SQLiteStoreError`` when the file holds something that is not a Tether log
    ///   (other tables, a missing or damaged meta row, a newer schema).
    static func inspect(_ db: Database, path: String) throws -> LogState? {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        if tables.isEmpty { return nil }
        guard Set(tables).isSuperset(of: ["meta", "events", "clients"]) else {
            throw SQLiteStoreError.notATetherLog(path: path, detail: "it holds tables \(tables.sorted().joined(separator: ", ")) but not Tether's meta, events and clients")
        }
        guard let row = try Row.fetchOne(db, sql: "SELECT schema_version, epoch, head, depth_events, depth_bytes, trims FROM meta WHERE id = 1") else {
            throw SQLiteStoreError.notATetherLog(path: path, detail: "its meta table has no row, so its epoch and head are unknown")
        }
        let schema: Int = row[0]
        guard schema <= version else {
            throw SQLiteStoreError.notATetherLog(path: path, detail: "it was written by a newer Tether (schema \(schema); this build reads up to \(version))")
        }
        let epoch: String = row[1]
        let head: Int64 = row[2]
        let depthEvents: Int = row[3]
        let depthBytes: Int = row[4]
        let trimsText: String = row[5]
        guard !epoch.isEmpty, head >= 0, depthEvents >= 0, depthBytes >= 0,
            let trims = try? JSONDecoder().decode(TrimHistory.self, from: Data(trimsText.utf8))
        else {
            throw SQLiteStoreError.notATetherLog(path: path, detail: "its meta row is damaged (epoch \(epoch), head \(head), depth \(depthEvents))")
        }
        let oldest = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM events") ?? (head + 1)
        return LogState(
            epoch: Epoch(rawValue: epoch), head: UInt64(head), oldest: UInt64(oldest),
            depthEvents: depthEvents, depthBytes: depthBytes, trims: trims
        )
    }

    static func encode(_ trims: TrimHistory) throws -> String {
        String(decoding: try JSONEncoder().encode(trims), as: UTF8.self)
    }
}
