public import TetherCore
public import Logging
import Foundation
import PostgresNIO
import Synchronization

/// A ``BufferStore`` in PostgreSQL that several relays share: one log, one epoch, sequence numbers
/// committed in order across all relays, client records any relay can resume, and a head
/// notification (LISTEN/NOTIFY) so that each relay fans out every relay's events.
///
/// Durability: ``append(_:)`` returns after PostgreSQL committed and flushed the events to disk,
/// but it holds the head counter only while it numbers and writes them: the commit does not wait
/// for the disk, a second statement makes it durable after the lock is released, and readers
/// only ever see events below a head known to be durable (see `PostgresBufferStore+Durability`).
/// While PostgreSQL is away every operation fails within ``Configuration/operationTimeout``
/// (producers hear 503); the pool and the listener reconnect with backoff by themselves, and the
/// listener reports the head again after each reconnect so no relay misses what was committed
/// meanwhile.
///
/// Ownership: PostgreSQL owns the log; this object owns the connection pool (run by a task it
/// starts in ``open()``, because the relay opens its store before its services run), the
/// listener task and the head-update subscribers, each behind one `Mutex`; the newest head known
/// to be durable (an atomic that only rises); and the ``HeadAnnouncer`` that tells other relays.
public final class PostgresBufferStore: ClientRecordStore, SharedLogStore {
    public let configuration: Configuration
    let logger: Logger
    let client: PostgresClient
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let subscribers = Mutex<[AsyncStream<UInt64>.Continuation]>([])
    private let claimSubscribers = Mutex<[AsyncStream<ConnectionClaim>.Continuation]>([])
    /// Every event up to this seq is on disk (see `PostgresBufferStore+Durability`); reads stop here.
    let durableHead = Atomic<UInt64>(0)
    let announcer = HeadAnnouncer()

    public init(configuration: Configuration, logger: Logger = Logger(label: "tether.store.postgres")) {
        self.configuration = configuration
        self.logger = logger
        var background = logger
        background.logLevel = .error
        self.client = PostgresClient(configuration: configuration.clientConfiguration, backgroundLogger: background)
    }

    // MARK: BufferStore

    public func open() async throws -> LogState {
        let client = self.client
        tasks.withLock { $0.append(Task { await client.run() }) }
        let epoch = Epoch.random().rawValue
        let logger = self.logger
        try await run("schema setup") { connection in
            try await connection.withTransaction(logger: logger) { connection in
                _ = try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.schemaLock))", logger: logger)
                for statement in PostgresSchema.statements {
                    _ = try await connection.query(statement, logger: logger)
                }
                _ = try await connection.query("INSERT INTO tether_log (id, epoch) VALUES (1, \(epoch)) ON CONFLICT (id) DO NOTHING", logger: logger)
            }
        }
        let state = try await state()
        tasks.withLock { $0.append(Task { await self.listen() }) }
        logger.info("PostgreSQL store open", metadata: ["endpoint": "\(configuration.endpoint)", "epoch": "\(state.epoch)", "head": "\(state.head)"])
        return state
    }

    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome {
        guard !drafts.isEmpty else { return AppendOutcome(sequences: [], appended: [], evictedEvents: 0, log: try await state()) }
        let retention = configuration.retention
        let logger = self.logger
        let durable = durableHead.load(ordering: .acquiring)
        // A producer id repeated within the batch is stored once, at its first draft's seq.
        var unique: [EventDraft] = []
        var firstIndex: [String: Int] = [:]
        let positions = drafts.map { draft -> Int in
            if let id = draft.producerID {
                if let index = firstIndex[id] { return index }
                firstIndex[id] = unique.count
            }
            unique.append(draft)
            return unique.count - 1
        }
        let batch = unique
        let (outcome, flushed) = try await run("append") { connection in
            // One statement, committed on its own: `tether_append` holds the head counter only
            // while it runs, with `synchronous_commit` off so that its commit does not wait for
            // the disk either (`flushWAL` below makes it durable).
            var (log, sequences, fresh) = try await Self.sequence(batch, on: connection, logger: logger)
            var appended: [Event] = []
            appended.reserveCapacity(batch.count)
            for (index, draft) in batch.enumerated() where fresh[index] { appended.append(draft.sequenced(sequences[index])) }
            var evicted = 0
            if !appended.isEmpty, log.depthEvents > retention.maxEvents || log.depthBytes > retention.maxBytes {
                (evicted, log) = try await Self.evict(after: log, to: retention, on: connection, logger: logger)
            }
            let outcome = AppendOutcome(sequences: positions.map { sequences[$0] }, appended: appended, evictedEvents: evicted, log: log.state)
            // A duplicate's seq may come from another relay's commit that is not on disk yet.
            guard (outcome.sequences.max() ?? 0) > durable else { return (outcome, false) }
            do {
                try await Self.flushWAL(on: connection, logger: logger)
            } catch {
                var wrapped = PostgresStoreError.wrap(error, during: "append (flushing its commit to disk)")
                wrapped.mayHaveStored = true
                throw wrapped
            }
            return (outcome, true)
        }
        if flushed { raiseDurableHead(to: outcome.log.head) }
        if !outcome.appended.isEmpty {
            publishHead(outcome.log.head)
            announcer.announce(outcome.log.head, through: self)
        }
        return outcome
    }

    /// Events up to the durable head only: one read past it could still vanish in a crash of
    /// PostgreSQL and its seq be handed out again. When nothing this relay knows to be durable
    /// follows `seq` but the log's head is further on (another relay committed and has not
    /// announced it yet), the read flushes and returns what follows, so a reader always makes
    /// progress.
    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        guard limit > 0, seq < UInt64(Int64.max) else { return [] }
        let logger = self.logger
        let durable = durableHead.load(ordering: .acquiring)
        let (events, flushed) = try await run("read") { connection -> ([Event], UInt64?) in
            if seq < durable {
                let events = try await Self.select(after: seq, through: durable, limit: limit, maxBytes: maxBytes, on: connection, logger: logger)
                if !events.isEmpty { return (events, nil) }
            }
            var head: UInt64 = 0
            for try await value in try await connection.query("SELECT head FROM tether_log WHERE id = 1", logger: logger).decode(Int64.self) {
                head = UInt64(value)
            }
            guard head > max(seq, durable) else { return ([], nil) }
            try await Self.flushWAL(on: connection, logger: logger)
            return (try await Self.select(after: seq, through: head, limit: limit, maxBytes: maxBytes, on: connection, logger: logger), head)
        }
        if let flushed { raiseDurableHead(to: flushed) }
        return events
    }

    private static func select(
        after seq: UInt64, through last: UInt64, limit: Int, maxBytes: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [Event] {
        let rows = try await connection.query(
            """
            SELECT seq, topic, time, data, producer_id FROM tether_events
            WHERE seq > \(Int64(clamping: seq)) AND seq <= \(Int64(clamping: last)) ORDER BY seq LIMIT \(limit)
            """,
            logger: logger
        )
        var events: [Event] = []
        var bytes = 0
        // Rows stream from the server; stopping at the byte bound leaves the rest unread.
        for try await (seq, topic, time, data, producerID) in rows.decode((Int64, String, Double, ByteBuffer, String?).self) {
            let event = Event(seq: UInt64(seq), topic: topic, time: Date(timeIntervalSince1970: time), data: Array(buffer: data), producerID: producerID)
            bytes += event.retainedBytes
            events.append(event)
            if bytes >= maxBytes { break }
        }
        return events
    }

    /// The log as committed, its head made durable first when it is above the durable head.
    public func state() async throws -> LogState {
        let logger = self.logger
        let known = durableHead.load(ordering: .acquiring)
        let row = try await run("state") { connection in
            let row = try await LogRow.read(on: connection, logger: logger)
            if row.head > known { try await Self.flushWAL(on: connection, logger: logger) }
            return row
        }
        raiseDurableHead(to: row.head)
        return row.state
    }

    public func close() async throws {
        let running = tasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
        await announcer.close()
        for task in running { task.cancel() }
        for task in running { await task.value }
        for continuation in subscribers.withLock({ $0 }) { continuation.finish() }
        for continuation in claimSubscribers.withLock({ $0 }) { continuation.finish() }
    }

    // MARK: SharedLogStore

    public func headUpdates() -> AsyncStream<UInt64> {
        let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self, bufferingPolicy: .bufferingNewest(16))
        subscribers.withLock { $0.append(continuation) }
        return stream
    }

    func publishHead(_ head: UInt64) {
        for continuation in subscribers.withLock({ $0 }) { continuation.yield(head) }
    }

    public func connectionClaims() -> AsyncStream<ConnectionClaim> {
        let (stream, continuation) = AsyncStream.makeStream(of: ConnectionClaim.self, bufferingPolicy: .bufferingNewest(4096))
        claimSubscribers.withLock { $0.append(continuation) }
        return stream
    }

    /// Hands one notification of the head channel to its subscribers: a head, or a claim
    /// (`c <generation> <id>`).
    func received(_ payload: String) {
        if let head = UInt64(payload) {
            // A relay announces a head only once it is on disk.
            raiseDurableHead(to: head)
            return publishHead(head)
        }
        let parts = payload.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "c", let generation = UInt64(parts[1]) else { return }
        let claim = ConnectionClaim(clientID: String(parts[2]), generation: generation)
        for continuation in claimSubscribers.withLock({ $0 }) { continuation.yield(claim) }
    }

    // MARK: Helpers

    /// Runs one operation on a pooled connection within the operation timeout, with a readable
    /// error (see ``withTimeout(_:operation:_:)`` for what a timeout does to a started operation).
    func run<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let client = self.client
        return try await withTimeout(configuration.operationTimeout, operation: "\(operation) on \(configuration.endpoint)") { started in
            try await client.withConnection { connection in
                started { connection.isClosed }
                return try await body(connection)
            }
        }
    }

    /// The count and byte caps, enforced right after the append that went over them, in a
    /// transaction of its own. The append is committed by then: when this fails, it logs and
    /// leaves the excess to the retention sweep rather than fail an append that was stored.
    private static func evict(after appended: LogRow, to retention: RetentionPolicy, on connection: PostgresConnection, logger: Logger) async throws -> (Int, LogRow) {
        do {
            return try await connection.withTransaction(logger: logger) { connection in
                _ = try await connection.query("SET LOCAL synchronous_commit TO off", logger: logger)
                var log = try await LogRow.lock(on: connection, logger: logger)
                let evicted = try await Self.evict(&log, to: retention, keepAtLeastOne: true, limit: nil, on: connection, logger: logger)
                if evicted > 0 { try await log.save(on: connection, logger: logger) }
                return (evicted, log)
            }
        } catch {
            logger.warning(
                "could not enforce the retention caps after an append (the append is stored); the next append or retention sweep removes the excess",
                metadata: ["error": "\(PostgresStoreError.wrap(error, during: "eviction"))", "events": "\(appended.depthEvents)", "bytes": "\(appended.depthBytes)"]
            )
            return (0, appended)
        }
    }

    /// Runs `tether_append` (``PostgresSchema/appendFunction``) for `drafts` (producer ids unique):
    /// the row as it stands after the append, each draft's seq, and whether the draft is new.
    private static func sequence(_ drafts: [EventDraft], on connection: PostgresConnection, logger: Logger) async throws -> (LogRow, [UInt64], [Bool]) {
        let topics = drafts.map(\.topic)
        let times = drafts.map { $0.time.timeIntervalSince1970 }
        let data = drafts.map { ByteBuffer(bytes: $0.data) }
        let ids = drafts.map { $0.producerID ?? "" }
        let hasID = drafts.map { $0.producerID != nil }
        let bytes = drafts.map { Int32(clamping: $0.data.count + $0.topic.utf8.count + ($0.producerID?.utf8.count ?? 0) + Event.fixedOverheadBytes) }
        let rows = try await connection.query(
            """
            SELECT o_seqs, o_fresh, o_epoch, o_head, o_oldest, o_depth_events, o_depth_bytes, o_trims
            FROM tether_append(\(topics)::text[], \(times)::float8[], \(data)::bytea[], \(ids)::text[], \(hasID)::bool[], \(bytes)::int4[])
            """,
            logger: logger
        )
        for try await (seqs, fresh, epoch, head, oldest, events, eventBytes, trims) in rows.decode(([Int64], [Bool], String, Int64, Int64, Int64, Int64, String).self) {
            let log = LogRow(
                epoch: epoch, head: UInt64(head), oldest: UInt64(oldest), depthEvents: Int(events), depthBytes: Int(eventBytes), trims: LogRow.trims(trims)
            )
            return (log, seqs.map { UInt64($0) }, fresh)
        }
        throw PostgresStoreError(.corrupt, "tether_append returned no row; was the tether_log row deleted by hand? Drop the tether_* tables to start a new log")
    }
}
