import Foundation
import GRDB
import TetherCore

/// Decides, before anything opens the database read-write, whether the files at a path are one
/// whole Tether log. It only reads: a file it refuses is left byte for byte as it was, with no
/// page added, no journal mode changed and no `-wal`/`-shm` created. (Opening read-write is
/// what changed such files before: GRDB switches a database to WAL mode as it opens it.)
///
/// The rules, each a way files come apart that would otherwise start a silent new epoch or hand
/// out sequence numbers twice:
/// - no `tether.sqlite`: a new log may be created, unless a `-wal` lies there without it;
/// - the file must have an SQLite header, whole pages, pass `PRAGMA quick_check` and carry
///   Tether's schema. A file with no tables at all is refused too: Tether creates a log with its
///   schema already in the main file (``SQLiteSchema/createFile(at:)``), so an empty one is
///   a main file whose `-wal` (holding everything) was left behind, or a stranger's;
/// - a main file whose ``SQLiteSchema/Mark`` says a relay had it open, with no `-wal` beside it,
///   is a copy taken from a running or crashed relay without its newest commits: refused;
/// - a `-wal` beside it must belong to it: the log read with the `-wal` has the main file's
///   epoch and a head no lower than the main file's alone.
///
/// The main file alone is read with SQLite's `immutable=1` (no locks, no `-wal`, no `-shm`);
/// the main file with its `-wal` read-only (`mode=ro`), which may create a `-shm` only.
enum SQLiteFileCheck {
    enum Verdict: Equatable {
        /// No database: the caller may create a new log.
        case absent
        /// A whole Tether log; `walPresent` says whether its `-wal` holds part of it.
        case log(LogState, walPresent: Bool)
    }

    static func inspect(path: String, quickCheck: Bool) throws -> Verdict {
        let wal = path + "-wal"
        let walSize = DurableFile.size(wal) ?? 0
        guard let size = DurableFile.size(path) else {
            if walSize > 0 {
                throw SQLiteStoreError.incomplete(
                    path: path,
                    detail: "\(wal) (\(walSize) bytes) lies there without the database it belongs to",
                    remedy: "Put back the tether.sqlite it was written with, or move \(wal) aside to start a new log"
                )
            }
            return .absent
        }
        let walPresent = walSize >= 32  // a WAL shorter than its header holds no commit
        let header = try readHeader(path: path, size: size, checkSize: !walPresent)
        let found: LogState?
        do {
            found = try read(path: path, mainOnly: !walPresent, quickCheck: quickCheck)
        } catch let error as SQLiteStoreError {
            throw error
        } catch {
            throw SQLiteStoreError.opening(path: path, error)
        }
        guard let log = found else {
            throw SQLiteStoreError.incomplete(
                path: path,
                detail: header.walMode && !walPresent
                    ? "it holds no tables and is in WAL mode with no \(wal) beside it: it was most likely copied without its -wal, which held the whole log"
                    : "it holds no tables, so no log (Tether creates a log with its tables in place)",
                remedy: "Restore it together with its -wal, or from a `tether backup` copy; to start a new log instead, move it aside"
            )
        }
        if walPresent {
            // The main file alone may be mid-checkpoint after a crash; only a readable view counts.
            if let alone = try? read(path: path, mainOnly: true, quickCheck: false) {
                guard alone.epoch == log.epoch, alone.head <= log.head else {
                    throw SQLiteStoreError.incomplete(
                        path: path,
                        detail: "its -wal \(wal) belongs to another log (the main file alone: epoch \(alone.epoch), head \(alone.head); with the -wal: epoch \(log.epoch), head \(log.head))",
                        remedy: "Restore the three files of one moment together, or restore from a `tether backup` copy into an empty state directory"
                    )
                }
            }
        } else if header.mark == .open {
            throw SQLiteStoreError.incomplete(
                path: path,
                detail: "a relay had it open (it was copied from a running relay, or the relay died) and its write-ahead log \(wal) is not beside it, so its newest events are missing (the true head may be past \(log.head)); starting on it would hand out sequence numbers again",
                remedy: "Put the -wal it was copied with back beside it, or restore a copy made with `tether backup`"
            )
        }
        return .log(log, walPresent: walPresent)
    }

    struct Header {
        var walMode: Bool
        var mark: SQLiteSchema.Mark?
    }

    /// Checks the 100-byte header and, when no `-wal` is beside it (a crash mid-checkpoint leaves
    /// a main file that only the `-wal` completes), the file's size against it. Without SQLite.
    private static func readHeader(path: String, size: Int, checkSize: Bool) throws -> Header {
        guard size > 0 else {
            throw SQLiteStoreError.incomplete(
                path: path, detail: "it is empty (0 bytes), so it holds no log",
                remedy: "Restore it from a backup, or delete it to start a new log"
            )
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SQLiteStoreError(.unavailable, "the database \(path) could not be read. Check that tether may read and write it")
        }
        defer { try? handle.close() }
        let bytes = [UInt8]((try? handle.read(upToCount: 100)) ?? Data())
        guard bytes.count == 100, bytes.starts(with: Array("SQLite format 3\0".utf8)) else {
            throw SQLiteStoreError.corrupt(path: path, detail: "its first bytes are not an SQLite header")
        }
        func integer(_ offset: Int, _ width: Int) -> Int { bytes[offset..<(offset + width)].reduce(0) { $0 << 8 | Int($1) } }
        let pageSize = integer(16, 2) == 1 ? 65536 : integer(16, 2)
        guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
            throw SQLiteStoreError.corrupt(path: path, detail: "its header names a page size of \(pageSize) bytes")
        }
        guard !checkSize || size % pageSize == 0 else {
            throw SQLiteStoreError.corrupt(path: path, detail: "its size, \(size) bytes, is not a whole number of \(pageSize)-byte pages: it was truncated or overwritten")
        }
        // The page count in the header is valid when the change counter matches "version valid for".
        let pages = integer(28, 4)
        if checkSize, integer(24, 4) == integer(92, 4), pages * pageSize > size {
            throw SQLiteStoreError.corrupt(path: path, detail: "its header counts \(pages) pages but the file holds \(size / pageSize): it was truncated")
        }
        return Header(walMode: bytes[18] == 2 || bytes[19] == 2, mark: SQLiteSchema.Mark(rawValue: integer(60, 4)))
    }

    /// The log as the main file alone shows it, or with its `-wal`, through a read-only
    /// connection; `nil` when the database has no tables.
    static func read(path: String, mainOnly: Bool, quickCheck: Bool) throws -> LogState? {
        let queue = try readOnlyQueue(path: path, mainOnly: mainOnly)
        defer { try? queue.close() }
        return try queue.read { db in
            if quickCheck {
                let verdict = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard verdict == ["ok"] else {
                    throw SQLiteStoreError.corrupt(path: path, detail: "quick_check: " + verdict.prefix(3).joined(separator: "; "))
                }
            }
            return try SQLiteSchema.inspect(db, path: path)
        }
    }

    /// A connection that can never write: `immutable=1` reads the main file alone and creates
    /// nothing; `mode=ro` reads it with its `-wal`.
    static func readOnlyQueue(path: String, mainOnly: Bool) throws -> DatabaseQueue {
        var options = GRDB.Configuration()
        options.readonly = true
        options.label = "tether.sqlite.check"
        let escaped = path.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "?", with: "%3f")
            .replacingOccurrences(of: "#", with: "%23")
        return try DatabaseQueue(path: "file:\(escaped)?\(mainOnly ? "immutable=1" : "mode=ro")", configuration: options)
    }
}
