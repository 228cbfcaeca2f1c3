import Logging
import PostgresNIO
import Synchronization

/// How an append stays durable without holding the head counter while the disk flushes.
///
/// An append numbers, writes and commits its batch under the `tether_log` row lock with
/// `synchronous_commit` off: the commit is visible, and the lock released, as soon as its WAL
/// record is written to memory. The same connection then runs one statement that writes WAL
/// and commits synchronously (``flushWAL(on:)``); its flush covers every earlier commit record,
/// so when it returns the batch and every lower seq are on disk, and only then does the producer
/// hear that it was accepted. Appends of several relays thus flush their WAL together
/// (PostgreSQL's own group commit) instead of one after another under the lock.
///
/// An event can therefore be visible before it is durable. Nothing reads it then:
/// ``PostgresBufferStore/read(after:limit:maxBytes:)`` stops at ``PostgresBufferStore/durableHead``,
/// which rises only past heads known to be on disk: this relay's own flushed appends, heads other
/// relays announce after their flush (``HeadAnnouncer``), and heads that ``state()`` or the
/// listener read and flushed themselves. A crash of PostgreSQL can lose a commit that was not
/// flushed, and with it the counter's advance; no producer was told it was accepted, and no
/// subscriber was shown it, so the seqs it held are handed out again without anyone having seen
/// them twice. A relay that dies between its commit and its flush leaves a committed batch that
/// PostgreSQL's WAL writer flushes within a second; other relays show it once any later append's
/// flush or their next safety poll (``state()``) covers it.
extension PostgresBufferStore {
    /// Flushes PostgreSQL's WAL up to now: a transactional logical message makes the statement
    /// write WAL under a transaction id, so its commit waits for the flush (a statement that
    /// writes no WAL would commit asynchronously). Needs no privilege and no `wal_level = logical`.
    static func flushWAL(on connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_logical_emit_message(true, 'tether', 'durable')", logger: logger)
    }

    /// Records that every seq up to `head` is on disk.
    func raiseDurableHead(to head: UInt64) {
        durableHead.max(head, ordering: .acquiringAndReleasing)
    }
}
