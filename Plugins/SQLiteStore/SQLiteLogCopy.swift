public import TetherCore
import Foundation
import GRDB

/// Copies a Tether log into one self-contained file: what `tether backup` and `tether restore`
/// do. The copy is a consistent snapshot even while a relay publishes into the source: SQLite's
/// online backup API copies every page inside one read transaction of a read-only connection,
/// which in WAL mode neither blocks the relay's writer nor sees half of a commit. The copy is in
/// rollback-journal mode and marked ``SQLiteSchema/Mark/closed``, so it needs no `-wal` and a
/// relay started on it (after `tether restore`) keeps its epoch and head.
///
/// The source is checked first like a relay's start-up does (``SQLiteFileCheck``), the copy is
/// written to `<destination>.partial`, passes `PRAGMA quick_check`, is fsynced and only then
/// renamed to `destination`; an existing destination is never overwritten.
public enum SQLiteLogCopy {
    /// What a finished copy holds.
    public struct Summary: Sendable, Hashable {
        public var log: LogState
        public var clients: Int
        public var bytes: Int
    }

    /// Copies the log at `source` (a database path) to `destination` (a file that must not
    /// exist, and with no `-wal` or `-shm` beside it).
    ///
    /// - Throws: ``SQLiteStoreError``: the source is not a whole Tether log, the destination
    ///   exists, or a read or write failed. Nothing is left at `destination` then.
    public static func copy(from source: String, to destination: String) throws -> Summary {
        for path in [destination, destination + "-wal", destination + "-shm"] where FileManager.default.fileExists(atPath: path) {
            throw SQLiteStoreError(
                .unavailable,
                "\(path) already exists; a copy never overwrites a database. Choose another destination, or move the existing files aside first"
            )
        }
        guard case .log(_, let walPresent) = try SQLiteFileCheck.inspect(path: source, quickCheck: false) else {
            throw SQLiteStoreError(.unavailable, "there is no database at \(source). Name the state directory of a relay with --state-dir, or a file written by `tether backup`")
        }
        let partial = destination + ".partial"
        for leftover in [partial, partial + "-journal", partial + "-wal", partial + "-shm"] {
            try? FileManager.default.removeItem(atPath: leftover)
        }
        // Without a -wal the main file is read with immutable=1, which creates nothing beside it
        // but also takes no lock: if a relay opened it meanwhile, its change shows in the stamp.
        let stamp = walPresent ? nil : DurableFile.stamp(source)
        do {
            let summary = try write(from: source, mainOnly: !walPresent, to: partial)
            if let stamp, DurableFile.stamp(source) != stamp || (DurableFile.size(source + "-wal") ?? 0) > 0 {
                throw SQLiteStoreError(
                    .unavailable,
                    "\(source) changed while it was copied (a relay opened it); nothing was copied. Run the command again"
                )
            }
            try DurableFile.sync(partial)
            try DurableFile.rename(partial, to: destination)
            return summary
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            if let error = error as? SQLiteStoreError { throw error }
            throw SQLiteStoreError(.unavailable, "copying \(source) to \(destination) failed: \(error)")
        }
    }

    private static func write(from source: String, mainOnly: Bool, to partial: String) throws -> Summary {
        let reader = try SQLiteFileCheck.readOnlyQueue(path: source, mainOnly: mainOnly)
        defer { try? reader.close() }
        let copy = try DatabaseQueue(path: partial)
        defer { try? copy.close() }
        try reader.backup(to: copy)
        let summary = try copy.writeWithoutTransaction { db in
            // The pages came with the source's WAL flag; the copy must stand alone.
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
            try db.execute(sql: "PRAGMA user_version = \(SQLiteSchema.Mark.closed.rawValue)")
            let verdict = try String.fetchAll(db, sql: "PRAGMA quick_check")
            guard verdict == ["ok"] else {
                throw SQLiteStoreError.corrupt(path: partial, detail: "the copy fails quick_check: " + verdict.prefix(3).joined(separator: "; "))
            }
            guard let log = try SQLiteSchema.inspect(db, path: source) else {
                throw SQLiteStoreError.notATetherLog(path: source, detail: "it holds no tables")
            }
            let clients = try Int.fetchOne(db, sql: "SELECT count(*) FROM clients") ?? 0
            return (log, clients)
        }
        try copy.close()
        return Summary(log: summary.0, clients: summary.1, bytes: DurableFile.size(partial) ?? 0)
    }
}
