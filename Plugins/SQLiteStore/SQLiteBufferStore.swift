public import TetherCore
public import Foundation
import GRDB
import Synchronization

/// A durable ``BufferStore``: the log, its epoch and the client records in one SQLite database
/// in WAL mode (through GRDB). An append returns only after its transaction committed, and with
/// the default `synchronous = full` only after the commit reached the disk, so an accepted
/// event survives `kill -9` and power loss.
///
/// Invariants:
/// - each ``append(_:)`` is one transaction: all of its events are committed, or none are and
///   nothing of the store's state moves (the relay's group commit makes that one fsync a batch);
/// - the epoch is created with the database and kept for its life; head, depth and trim history
///   live in a one-row meta table written in the same transaction as the events they describe,
///   so start-up reads them instead of the log (see ``SQLiteSchema``);
/// - trims delete from the old end in bounded chunks, one transaction each, so an append never
///   waits behind a long delete;
/// - a file that is not a healthy, whole Tether log fails ``open()`` and is never written to
///   (``SQLiteFileCheck`` reads it read-only first);
/// - after ``close()`` the main file alone holds the whole log (no `-wal` is left).
///
/// Ownership: the database writer (GRDB's serial writer queue) owns all writes; `cache` mirrors
/// the committed ``LogState`` and is replaced only on that queue, after a commit succeeded.
/// Reads use WAL readers and do not wait for the writer.
public final class SQLiteBufferStore: ClientRecordStore {
    public struct Configuration: Sendable, Hashable {
        /// How hard a commit waits for the disk (SQLite's `PRAGMA synchronous`).
        public enum Synchronous: String, Sendable, Hashable, CaseIterable {
            /// Each commit is fsynced before the producer hears `accepted`: survives power loss.
            case full
            /// Commits are fsynced only at checkpoints: survives a process crash, but the last
            /// transactions before a power failure or kernel crash can be lost.
            case normal
        }

        /// The database file (the plugin uses `<state-dir>/tether.sqlite`).
        public var path: String
        public var retention: RetentionPolicy
        public var synchronous: Synchronous
        /// The most pages (4 KiB each) the database file may grow to, or `nil` for no limit: a
        /// disk quota. When reached, appends fail (producers get 503) until trims free pages.
        public var maxPages: Int?
        /// The most events one trim transaction deletes, so no delete stalls appends for long.
        public var trimChunk: Int
        /// Run `PRAGMA quick_check` when opening, so a damaged file fails start-up instead of
        /// failing later, mid-traffic. It reads the file once; it does not load the log.
        public var checkOnOpen: Bool

        public init(
            path: String, retention: RetentionPolicy = RetentionPolicy(), synchronous: Synchronous = .full,
            maxPages: Int? = nil, trimChunk: Int = 2000, checkOnOpen: Bool = true
        ) {
            self.path = path
            self.retention = retention
            self.synchronous = synchronous
            self.maxPages = maxPages
            self.trimChunk = trimChunk
            self.checkOnOpen = checkOnOpen
        }
    }

    public let configuration: Configuration
    private let pool = Mutex<DatabasePool?>(nil)
    private let cache = Mutex<LogState?>(nil)

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    // MARK: Opening and closing

    /// Opens the database, creating the file and a new epoch only if there is no file yet.
    ///
    /// The files are first checked read-only (``SQLiteFileCheck``); only a whole Tether log is
    /// then opened read-write. Opening merges what a crash left in the `-wal` into the main file
    /// and marks the main file ``SQLiteSchema/Mark/open`` until ``close()``.
    ///
    /// - Throws: ``SQLiteStoreError`` naming the file when it is damaged, not a Tether log, or
    ///   not whole (see ``SQLiteFileCheck``); such files are left as they were.
    public func open() async throws -> LogState {
        let path = configuration.path
        do {
            if try SQLiteFileCheck.inspect(path: path, quickCheck: configuration.checkOnOpen) == .absent {
                try SQLiteSchema.createFile(at: path)
            }
        } catch {
            throw SQLiteStoreError.opening(path: path, error)
        }
        var options = GRDB.Configuration()
        options.label = "tether.sqlite"
        options.maximumReaderCount = 4
        // A checkpoint holds the database briefly; wait rather than fail a read or write.
        options.busyMode = .timeout(10)
        let opened: DatabasePool
        do {
            opened = try DatabasePool(path: path, configuration: options)
        } catch {
            throw SQLiteStoreError.opening(path: path, error)
        }
        let settings = configuration
        let state: LogState
        do {
            state = try await opened.writeWithoutTransaction { db in
                // After the pool's own setup: GRDB sets NORMAL when it switches to WAL.
                try db.execute(sql: "PRAGMA synchronous = \(settings.synchronous == .full ? "FULL" : "NORMAL")")
                // After a checkpoint, truncate a WAL that a burst grew beyond 64 MiB.
                try db.execute(sql: "PRAGMA journal_size_limit = \(64 << 20)")
                if let maxPages = settings.maxPages { try db.execute(sql: "PRAGMA max_page_count = \(maxPages)") }
                // What a crash left in the -wal goes into the main file first; then the mark
                // `open` is written and checkpointed, leaving the -wal non-empty from here on.
                // (A checkpoint another process blocks is no error: the -wal is then non-empty too.)
                _ = try? db.checkpoint(.truncate)
                guard let state = try SQLiteSchema.inspect(db, path: path) else {
                    throw SQLiteStoreError.notATetherLog(path: path, detail: "it holds no tables")
                }
                try db.execute(sql: "PRAGMA user_version = \(SQLiteSchema.Mark.open.rawValue)")
                _ = try? db.checkpoint(.passive)
                return state
            }
        } catch let error as SQLiteStoreError {
            try? opened.close()
            throw error
        } catch {
            try? opened.close()
            throw SQLiteStoreError.opening(path: path, error)
        }
        pool.withLock { $0 = opened }
        cache.withLock { $0 = state }
        return state
    }

    /// Marks the main file closed, checkpoints the whole `-wal` into it and truncates the
    /// `-wal`, then closes the readers before the writer, so the writer's close is the last and
    /// SQLite removes `-wal` and `-shm`: `tether.sqlite` alone is then the whole log.
    ///
    /// - Throws: ``SQLiteStoreError`` when the checkpoint could not finish; the `-wal` then still
    ///   holds the newest commits and must stay beside the main file (the next start merges it).
    public func close() async throws {
        guard let opened = pool.withLock({ pool in defer { pool = nil }; return pool }) else { return }
        let path = configuration.path
        var failure: (any Error)?
        do {
            try await opened.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA user_version = \(SQLiteSchema.Mark.closed.rawValue)")
                try db.checkpoint(.truncate)
            }
        } catch {
            failure = error
        }
        // GRDB closes the writer first; a read-only reader closing last cannot checkpoint, and
        // SQLite would leave the -wal behind. Closing the readers first avoids that.
        opened.releaseMemory()
        try opened.close()
        if let failure {
            throw SQLiteStoreError(
                .unavailable,
                "the database \(path) could not be checkpointed on close (\(failure)); its -wal still holds the newest events: keep \(path)-wal beside it, the next start merges it"
            )
        }
    }

    func database() throws -> DatabasePool {
        guard let opened = pool.withLock({ $0 }) else {
            throw SQLiteStoreError(.notOpen, "the SQLite store at \(configuration.path) is not open")
        }
        return opened
    }

    /// The committed state. Called on the writer queue, or as a cheap read anywhere else.
    private func current() throws -> LogState {
        guard let state = cache.withLock({ $0 }) else {
            throw SQLiteStoreError(.notOpen, "the SQLite store at \(configuration.path) is not open")
        }
        return state
    }

    /// Runs `body` in one immediate transaction on the writer queue and publishes the state it
    /// produced only once the transaction committed.
    private func transaction<T: Sendable>(
        _ body: @escaping @Sendable (Database, inout LogState) throws -> T
    ) async throws -> (T, LogState) {
        do {
            return try await database().writeWithoutTransaction { db in
                var state = try self.current()
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db, &state)
                    return .commit
                }
                self.cache.withLock { $0 = state }
                return (result!, state)
            }
        } catch {
            throw SQLiteStoreError.writing(path: configuration.path, maxPages: configuration.maxPages, error)
        }
    }

    // MARK: The log

    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome {
        let retention = configuration.retention
        // Eviction in an append is bounded too; whatever is left over, the next trim removes.
        let evictLimit = max(drafts.count, configuration.trimChunk)
        let (partial, state) = try await transaction { db, state in
            let (sequences, appended) = try Self.insert(drafts, into: &state, db: db)
            var evicted = 0
            if state.depthEvents > retention.maxEvents || state.depthBytes > retention.maxBytes {
                evicted = try Self.removeOldest(from: &state, db: db, limit: evictLimit) { _, events, bytes in
                    events > 1 && (events > retention.maxEvents || bytes > retention.maxBytes) ? .evicted : nil
                }.events
            }
            try Self.writeMeta(state, trimsChanged: evicted > 0, db: db)
            return AppendOutcome(sequences: sequences, appended: appended, evictedEvents: evicted, log: state)
        }
        var outcome = partial
        outcome.log = state
        return outcome
    }

    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        guard limit > 0, seq < UInt64(Int64.max) else { return [] }
        return try await database().read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT seq, time, topic, producer_id, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?"
            )
            var events: [Event] = []
            events.reserveCapacity(min(limit, 4096))
            let rows = try Row.fetchCursor(statement, arguments: [Int64(seq), limit])
            var bytes = 0
            while bytes < maxBytes, let row = try rows.next() {
                let seq: Int64 = row[0]
                let time: Double = row[1]
                let data = try row.withUnsafeData(atIndex: 4) { bytes in bytes.map { [UInt8]($0) } ?? [] }
                let event = Event(seq: UInt64(seq), topic: row[2], time: Date(timeIntervalSince1970: time), data: data, producerID: row[3])
                bytes += event.retainedBytes
                events.append(event)
            }
            return events
        }
    }

    /// Removes expired events (reason `.ttl`) and then events over the caps (`.evicted`) from
    /// the old end, `trimChunk` events per transaction, until the policy is met.
    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome {
        var removedEvents = 0
        var removedBytes = 0
        while true {
            let (step, _) = try await transaction { [chunk = configuration.trimChunk] db, state in
                var expiring = true
                let step = try Self.removeOldest(from: &state, db: db, limit: chunk) { time, events, bytes in
                    if expiring, now.timeIntervalSince(time) > policy.ttl { return .ttl }
                    expiring = false
                    return events > policy.maxEvents || bytes > policy.maxBytes ? .evicted : nil
                }
                if step.events > 0 { try Self.writeMeta(state, trimsChanged: true, db: db) }
                return step
            }
            removedEvents += step.events
            removedBytes += step.bytes
            if !step.more { break }
        }
        return TrimOutcome(removedEvents: removedEvents, removedBytes: removedBytes, log: try current())
    }

    /// Where the log stands, after a round trip through the writer queue: a wedged writer makes
    /// this hang, which is what the health monitor's probe must notice.
    public func state() async throws -> LogState {
        try await database().writeWithoutTransaction { _ in try self.current() }
    }

    // MARK: Statements (run on the writer queue, inside a transaction)

    /// Sequences and inserts `drafts`; a producer id already retained (or earlier in this batch)
    /// maps to its existing sequence number instead.
    private static func insert(_ drafts: [EventDraft], into state: inout LogState, db: Database) throws -> ([UInt64], [Event]) {
        let find = try db.cachedStatement(sql: "SELECT seq FROM events WHERE producer_id = ?")
        let insert = try EventInsert(db)
        var sequences: [UInt64] = []
        sequences.reserveCapacity(drafts.count)
        var appended: [Event] = []
        appended.reserveCapacity(drafts.count)
        var batchIDs: [String: UInt64] = [:]
        for draft in drafts {
            if let id = draft.producerID {
                if let existing = batchIDs[id] {
                    sequences.append(existing)
                    continue
                }
                if let existing = try Int64.fetchOne(find, arguments: [id]) {
                    sequences.append(UInt64(existing))
                    continue
                }
            }
            state.head += 1
            let event = draft.sequenced(state.head)
            let bytes = event.retainedBytes
            try insert(event, bytes: bytes)
            if state.depthEvents == 0 { state.oldest = event.seq }
            state.depthEvents += 1
            state.depthBytes += bytes
            if let id = draft.producerID { batchIDs[id] = event.seq }
            sequences.append(event.seq)
            appended.append(event)
        }
        return (sequences, appended)
    }

    struct RemovalStep: Sendable {
        var events: Int
        var bytes: Int
        /// Whether the walk stopped at its row limit with more perhaps left to remove.
        var more: Bool
    }

    /// Walks at most `limit` events from the old end and deletes the leading run that `reason`
    /// (given an event's time and the depth before removing it) says must go, recording why.
    private static func removeOldest(
        from state: inout LogState, db: Database, limit: Int,
        reason: (_ time: Date, _ events: Int, _ bytes: Int) -> GapReason?
    ) throws -> RemovalStep {
        var step = RemovalStep(events: 0, bytes: 0, more: false)
        var last: UInt64?
        var run: GapReason?
        var scanned = 0
        var stopped = false
        do {
            // Not a cached statement: the cursor must be finished before the DELETE below.
            let rows = try Row.fetchCursor(
                db, sql: "SELECT seq, time, bytes FROM events WHERE seq >= ? ORDER BY seq LIMIT ?",
                arguments: [Int64(state.oldest), limit]
            )
            while let row = try rows.next() {
                scanned += 1
                let seq = UInt64(row[0] as Int64)
                let time: Double = row[1]
                let bytes: Int = row[2]
                guard let why = reason(Date(timeIntervalSince1970: time), state.depthEvents, state.depthBytes) else {
                    stopped = true
                    break
                }
                if let run, run != why { state.trims.record(through: seq - 1, reason: run) }
                run = why
                last = seq
                state.depthEvents -= 1
                state.depthBytes -= bytes
                step.events += 1
                step.bytes += bytes
            }
        }
        if let last, let run {
            state.trims.record(through: last, reason: run)
            try db.execute(sql: "DELETE FROM events WHERE seq <= ?", arguments: [Int64(last)])
            state.oldest = last + 1
        }
        step.more = !stopped && scanned == limit
        return step
    }

    private static func writeMeta(_ state: LogState, trimsChanged: Bool, db: Database) throws {
        if trimsChanged {
            try db.execute(
                sql: "UPDATE meta SET head = ?, depth_events = ?, depth_bytes = ?, trims = ? WHERE id = 1",
                arguments: [Int64(state.head), state.depthEvents, state.depthBytes, try SQLiteSchema.encode(state.trims)]
            )
        } else {
            try db.cachedStatement(sql: "UPDATE meta SET head = ?, depth_events = ?, depth_bytes = ? WHERE id = 1")
                .execute(arguments: [Int64(state.head), state.depthEvents, state.depthBytes])
        }
    }
}
