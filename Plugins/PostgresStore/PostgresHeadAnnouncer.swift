import Logging
import PostgresNIO
import Synchronization

/// Tells the other relays about this relay's durable heads (`NOTIFY tether_head, '<head>'`), one
/// notification at a time, after the append that made the head durable has returned: a head
/// covers every lower one, so heads that arrive while one is being sent coalesce into the newest.
///
/// Each notification is its own transaction, committed without waiting for the disk (the head
/// it names is durable already). PostgreSQL holds one database-wide lock from a NOTIFY's commit
/// until that commit is done; inside the append's transaction it would make every relay's
/// commits wait for each other's disk flushes again.
///
/// A notification that fails is not retried: the other relays see the head at the next one, or
/// at their safety poll (3 s) if no append follows.
///
/// Ownership: `state` (the newest head to send, the newest sent, the sender task) behind one
/// `Mutex`; at most one sender task runs, and only it sends.
final class HeadAnnouncer: Sendable {
    private struct State {
        var pending: UInt64 = 0
        var sent: UInt64 = 0
        var sender: Task<Void, Never>?
        var failing = false
        var closed = false
    }

    private let state = Mutex(State())

    /// Queues `head` and starts a sender task unless one is running.
    func announce(_ head: UInt64, through store: PostgresBufferStore) {
        state.withLock { state in
            guard !state.closed, head > state.pending else { return }
            state.pending = head
            guard state.sender == nil else { return }
            state.sender = Task { await self.send(through: store) }
        }
    }

    /// Stops sending (a notification being sent finishes or fails by itself).
    func close() async {
        let sender = state.withLock { state in
            state.closed = true
            return state.sender
        }
        sender?.cancel()
        await sender?.value
    }

    private func send(through store: PostgresBufferStore) async {
        let logger = store.logger
        while true {
            let next: UInt64? = state.withLock { state in
                guard !state.closed, state.pending > state.sent else {
                    state.sender = nil
                    return nil
                }
                state.sent = state.pending
                return state.pending
            }
            guard let head = next else { return }
            do {
                try await store.run("announce the head") { connection in
                    _ = try await connection.query(
                        "SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(PostgresSchema.channel), \(String(head)))",
                        logger: logger
                    )
                }
                state.withLock { $0.failing = false }
            } catch {
                // Closing: the relay is stopping, nobody is owed this head by it any more.
                if Task.isCancelled { return }
                let first = state.withLock { state in
                    defer { state.failing = true }
                    return !state.failing
                }
                if first {
                    logger.warning(
                        "could not tell the other relays about new events; they deliver them after their next safety poll (3 s) or the next append",
                        metadata: ["head": "\(head)", "error": "\(error)"]
                    )
                }
            }
        }
    }
}
