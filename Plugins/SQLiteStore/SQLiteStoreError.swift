import GRDB

/// Why the SQLite store could not open or write its database, in words an operator can act on.
/// Every message names the database file.
public struct SQLiteStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The file is not a readable SQLite database, or fails its integrity check.
        public static let corrupt = Kind(rawValue: "corrupt")
        /// The file is a database, but not a Tether log this build can read.
        public static let notATetherLog = Kind(rawValue: "not_a_tether_log")
        /// The state files do not make one whole log: a main file without the `-wal` that holds
        /// its newest commits, a `-wal` of another log, a `-wal` without its database, an empty
        /// file. Starting on them would begin a silent new epoch or reuse sequence numbers.
        public static let incomplete = Kind(rawValue: "incomplete")
        /// The database could not be opened or written for another reason (permissions, I/O).
        public static let unavailable = Kind(rawValue: "unavailable")
        /// The database is full (its disk, or `store.sqlite.max-pages`): writes fail until trims
        /// free pages or space returns; reads go on.
        public static let full = Kind(rawValue: "full")
        /// The database file or its directory became read-only.
        public static let readOnly = Kind(rawValue: "read_only")
        /// A store setting is malformed.
        public static let configuration = Kind(rawValue: "configuration")
        /// The store was used before `open()` or after `close()`.
        public static let notOpen = Kind(rawValue: "not_open")
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func corrupt(path: String, detail: String) -> SQLiteStoreError {
        SQLiteStoreError(
            .corrupt,
            "the database \(path) is damaged or not an SQLite database (\(detail)). It was left untouched. "
                + "Restore it from a backup, or move it aside to start a new log (clients will then be told to reset)"
        )
    }

    /// Classifies an error from opening the database: damage is reported as such, anything
    /// else (a missing directory, permissions) as unavailable, with SQLite's own words.
    static func opening(path: String, _ error: any Error) -> SQLiteStoreError {
        if let error = error as? SQLiteStoreError { return error }
        if let error = error as? DatabaseError, [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            return corrupt(path: path, detail: "SQLite says: \(error.message ?? "\(error.resultCode)")")
        }
        return SQLiteStoreError(
            .unavailable,
            "the database \(path) could not be opened: \(error). Check that its directory exists and that tether may read and write it"
        )
    }

    /// Classifies an error from a write: a full or read-only database is named as such (the
    /// relay reports the message in its 503 and in /readyz); anything else passes through.
    static func writing(path: String, maxPages: Int?, _ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_FULL:
            let quota = maxPages.map { "store.sqlite.max-pages (\($0) pages) is reached or " } ?? ""
            return SQLiteStoreError(
                .full,
                "the database \(path) is full: \(quota)its disk has no space left. Nothing of this batch was stored; "
                    + "writes resume when retention trims free pages or space is freed"
            )
        case .SQLITE_READONLY:
            return SQLiteStoreError(.readOnly, "the database \(path) is read-only (\(error.message ?? "SQLITE_READONLY")); nothing of this batch was stored")
        case .SQLITE_IOERR:
            return SQLiteStoreError(.unavailable, "I/O error writing the database \(path) (\(error.message ?? "SQLITE_IOERR")); nothing of this batch was stored")
        default:
            return error
        }
    }

    static func incomplete(path: String, detail: String, remedy: String) -> SQLiteStoreError {
        SQLiteStoreError(
            .incomplete,
            "the state files at \(path) do not make one whole Tether log: \(detail). They were left untouched. \(remedy)"
        )
    }

    static func notATetherLog(path: String, detail: String) -> SQLiteStoreError {
        SQLiteStoreError(
            .notATetherLog,
            "the database \(path) is not a Tether log this build can use: \(detail). It was left untouched. "
                + "Point --state-dir at another directory, or move the file aside to start a new log"
        )
    }
}
