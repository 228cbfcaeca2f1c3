import TetherCore
import GRDB
import GRDBSQLite

/// The append hot path's INSERT, bound and stepped through SQLite's C API on a GRDB-prepared
/// (cached) statement. GRDB's `StatementArguments` box each value and would copy every payload
/// into a `Data`; binding directly cut the store's CPU time per event by about 40% in
/// `tether-store-bench` (synchronous=normal, where the disk does not hide it).
///
/// Runs on the writer queue, inside the append's transaction, like every other write.
struct EventInsert {
    static let sql = "INSERT INTO events (seq, time, bytes, topic, producer_id, data) VALUES (?, ?, ?, ?, ?, ?)"
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    let statement: Statement
    let db: Database

    init(_ db: Database) throws {
        self.db = db
        self.statement = try db.cachedStatement(sql: Self.sql)
    }

    func callAsFunction(_ event: Event, bytes: Int) throws {
        let handle = statement.sqliteStatement
        sqlite3_bind_int64(handle, 1, Int64(event.seq))
        sqlite3_bind_double(handle, 2, event.time.timeIntervalSince1970)
        sqlite3_bind_int64(handle, 3, Int64(bytes))
        sqlite3_bind_text(handle, 4, event.topic, -1, Self.transient)
        if let id = event.producerID {
            sqlite3_bind_text(handle, 5, id, -1, Self.transient)
        } else {
            sqlite3_bind_null(handle, 5)
        }
        _ = event.data.withUnsafeBytes { payload in
            if let base = payload.baseAddress {
                sqlite3_bind_blob(handle, 6, base, Int32(payload.count), Self.transient)
            } else {
                sqlite3_bind_zeroblob(handle, 6, 0)
            }
        }
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: Self.sql
            )
        }
    }
}
