public import TetherCore
public import Logging
import Foundation
import PostgresNIO
import Synchronization

/// A ``BufferStore`` in PostgreSQL that several relays share: one log, one epoch, sequence numbers
/// committed in order across all relays, client records any relay can resume, and a head
/// notification (LISTEN/NOTIFY) so that each relay fans out every relay's events.
///
/// Durability: ``append(_:)`` returns after PostgreSQL committed. While PostgreSQL is away every
/// operation fails within ``Configuration/operationTimeout`` (producers hear 503); the pool and
/// the listener reconnect with backoff by themselves, and the listener reports the head again
/// after each reconnect so no relay misses what was committed meanwhile.
///
/// Ownership: PostgreSQL owns the log; this object owns the connection pool (run by a task it
/// starts in ``open()``, because the relay opens its store before its services run), the
/// listener task and the head-update subscribers, each behind one `Mutex`.
public final class PostgresBufferStore: ClientRecordStore, SharedLogStore {
    public let configuration: Configuration
    let logger: Logger
    let client: PostgresClient
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let subscribers = Mutex<[AsyncStream<UInt64>.Continuation]>([])
    private let claimSubscribers = Mutex<[AsyncStream<ConnectionClaim>.Continuation]>([])

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
        let outcome = try await run("append") { connection in
            try await connection.withTransaction(logger: logger) { connection in
                var log = try await LogRow.lock(on: connection, logger: logger)
                let ids = drafts.compactMap(\.producerID)
                var known: [String: UInt64] = [:]
                if !ids.isEmpty {
                    let rows = try await connection.query("SELECT producer_id, seq FROM tether_events WHERE producer_id = ANY(\(ids))", logger: logger)
                    for try await (id, seq) in rows.decode((String, Int64).self) { known[id] = UInt64(seq) }
                }
                var sequences: [UInt64] = []
                sequences.reserveCapacity(drafts.count)
                var appended: [Event] = []
                appended.reserveCapacity(drafts.count)
                for draft in drafts {
                    if let id = draft.producerID, let existing = known[id] {
                        sequences.append(existing)
                        continue
                    }
                    log.head += 1
                    let event = draft.sequenced(log.head)
                    if let id = draft.producerID { known[id] = event.seq }
                    sequences.append(event.seq)
                    appended.append(event)
                    log.depthEvents += 1
                    log.depthBytes += event.retainedBytes
                }
                guard !appended.isEmpty else { return AppendOutcome(sequences: sequences, appended: [], evictedEvents: 0, log: log.state) }
                try await Self.insert(appended, on: connection, logger: logger)
                let evicted = try await Self.evict(&log, to: retention, keepAtLeastOne: true, limit: nil, on: connection, logger: logger)
                try await log.save(on: connection, logger: logger)
                _ = try await connection.query("SELECT pg_notify(\(PostgresSchema.channel), \(String(log.head)))", logger: logger)
                return AppendOutcome(sequences: sequences, appended: appended, evictedEvents: evicted, log: log.state)
            }
        }
        if !outcome.appended.isEmpty { publishHead(outcome.log.head) }
        return outcome
    }

    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        guard limit > 0, seq < UInt64(Int64.max) else { return [] }
        let logger = self.logger
        return try await run("read") { connection in
            let rows = try await connection.query(
                "SELECT seq, topic, time, data, producer_id FROM tether_events WHERE seq > \(Int64(clamping: seq)) ORDER BY seq LIMIT \(limit)",
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
    }

    public func state() async throws -> LogState {
        let logger = self.logger
        return try await run("state") { connection in try await LogRow.read(on: connection, logger: logger).state }
    }

    public func close() async throws {
        let running = tasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
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
        if let head = UInt64(payload) { return publishHead(head) }
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

    private static func insert(_ events: [Event], on connection: PostgresConnection, logger: Logger) async throws {
        let seqs = events.map { Int64($0.seq) }
        let topics = events.map(\.topic)
        let times = events.map { $0.time.timeIntervalSince1970 }
        let data = events.map { ByteBuffer(bytes: $0.data) }
        let ids = events.map { $0.producerID ?? "" }
        let hasID = events.map { $0.producerID != nil }
        let bytes = events.map { Int32(clamping: $0.retainedBytes) }
        _ = try await connection.query(
            """
            INSERT INTO tether_events (seq, topic, time, data, producer_id, bytes)
            SELECT s, t, tm, d, CASE WHEN h THEN p END, b
            FROM unnest(\(seqs)::int8[], \(topics)::text[], \(times)::float8[], \(data)::bytea[], \(ids)::text[], \(hasID)::bool[], \(bytes)::int4[])
                AS u(s, t, tm, d, p, h, b)
            """,
            logger: logger
        )
    }
}
