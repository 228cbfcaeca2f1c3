public import TetherCore
public import struct Foundation.Date
import PostgresNIO

/// Retention. Retained events are always the contiguous range `oldest...head` (appends add at the
/// head, trims remove from the old end), so a cut is one sequence number and `DELETE ... WHERE seq
/// <= cut` removes exactly the events before it.
///
/// ``trim(_:now:)`` runs on one relay at a time (`pg_try_advisory_xact_lock`: a relay that does
/// not get it skips this round, the holder does the work) and in bounded chunks: each chunk is one
/// short transaction that holds the head counter (so appends wait only that long), and one call
/// does at most ``Configuration/trimChunksPerCall`` chunks; the next sweep continues.
extension PostgresBufferStore {
    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome {
        let logger = self.logger
        let chunk = max(1, configuration.trimChunk)
        var removed = 0
        var removedBytes = 0
        for _ in 0..<max(1, configuration.trimChunksPerCall) {
            let (events, bytes, owner) = try await run("retention") { connection in
                try await connection.withTransaction(logger: logger) { connection -> (Int, Int, Bool) in
                    let rows = try await connection.query("SELECT pg_try_advisory_xact_lock(\(PostgresSchema.retentionLock))", logger: logger)
                    var owner = false
                    for try await locked in rows.decode(Bool.self) { owner = locked }
                    guard owner else { return (0, 0, false) }
                    var log = try await LogRow.lock(on: connection, logger: logger)
                    let beforeEvents = log.depthEvents
                    let beforeBytes = log.depthBytes
                    if log.depthEvents > 0 {
                        let cutoff = now.timeIntervalSince1970 - policy.ttl
                        let expired = try await connection.query(
                            "SELECT seq, time FROM tether_events WHERE seq >= \(Int64(log.oldest)) ORDER BY seq LIMIT \(chunk)",
                            logger: logger
                        )
                        var cut: UInt64?
                        for try await (seq, time) in expired.decode((Int64, Double).self) {
                            guard time < cutoff else { break }
                            cut = UInt64(seq)
                        }
                        if let cut { try await Self.remove(through: cut, reason: .ttl, from: &log, on: connection, logger: logger) }
                    }
                    let room = chunk - (beforeEvents - log.depthEvents)
                    if room > 0 {
                        _ = try await Self.evict(&log, to: policy, keepAtLeastOne: false, limit: room, on: connection, logger: logger)
                    }
                    if log.depthEvents != beforeEvents { try await log.save(on: connection, logger: logger) }
                    return (beforeEvents - log.depthEvents, beforeBytes - log.depthBytes, true)
                }
            }
            removed += events
            removedBytes += bytes
            guard owner, events >= chunk else { break }
        }
        return TrimOutcome(removedEvents: removed, removedBytes: removedBytes, log: try await state())
    }

    /// Removes the oldest events until the log fits `policy`'s count and byte caps (at most
    /// `limit` events when given), recording them as evicted. Returns how many it removed.
    static func evict(
        _ log: inout LogRow, to policy: RetentionPolicy, keepAtLeastOne: Bool, limit: Int?,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        let floor = keepAtLeastOne ? 1 : 0
        guard log.depthEvents > floor, log.depthEvents > policy.maxEvents || log.depthBytes > policy.maxBytes else { return 0 }
        let before = log.depthEvents
        var cut: UInt64 = 0
        if log.depthEvents > policy.maxEvents {
            cut = log.oldest + UInt64(log.depthEvents - max(policy.maxEvents, floor)) - 1
        }
        if log.depthBytes > policy.maxBytes {
            // The first seq whose removal (with everything before it) brings the log under the cap.
            let rows = try await connection.query(
                """
                SELECT seq FROM (
                    SELECT seq, sum(bytes) OVER (ORDER BY seq) AS removed FROM tether_events WHERE seq >= \(Int64(log.oldest))
                ) s WHERE \(Int64(log.depthBytes)) - removed <= \(Int64(policy.maxBytes)) ORDER BY seq LIMIT 1
                """,
                logger: logger
            )
            var byteCut = log.head
            for try await seq in rows.decode(Int64.self) { byteCut = UInt64(seq) }
            cut = max(cut, byteCut)
        }
        if keepAtLeastOne { cut = min(cut, log.head - 1) }
        if let limit { cut = min(cut, log.oldest + UInt64(limit) - 1) }
        guard cut >= log.oldest else { return 0 }
        try await remove(through: cut, reason: .evicted, from: &log, on: connection, logger: logger)
        return before - log.depthEvents
    }

    /// Deletes every event up to `cut` and updates the row (not yet saved).
    static func remove(through cut: UInt64, reason: GapReason, from log: inout LogRow, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            """
            WITH gone AS (DELETE FROM tether_events WHERE seq <= \(Int64(cut)) RETURNING bytes)
            SELECT count(*)::int8, coalesce(sum(bytes), 0)::int8 FROM gone
            """,
            logger: logger
        )
        for try await (count, bytes) in rows.decode((Int64, Int64).self) {
            log.depthEvents -= Int(count)
            log.depthBytes -= Int(bytes)
        }
        log.oldest = max(log.oldest, cut + 1)
        log.trims.record(through: cut, reason: reason)
    }
}
