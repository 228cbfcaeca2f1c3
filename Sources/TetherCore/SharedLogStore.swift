/// A ``BufferStore`` whose one log is shared by several relays (PostgreSQL): any relay may append,
/// and each relay must fan out every relay's events to its own subscribers.
///
/// On top of ``BufferStore``, such a store promises:
/// - commit order equals sequence order across all writers: once `read` returns seq N, every
///   seq below N that was ever assigned is either readable too or trimmed (never "not yet
///   committed"), so a reader can treat a hole in what it reads as trimmed;
/// - ``headUpdates()`` reports heads committed by any relay, this one's own appends included,
///   soon after their commit. Updates may be coalesced, repeated or arrive out of order (only the
///   highest matters); after a lost connection the store reports its current head again, so a
///   missed update is made good.
///
/// The relay's ``LogFollower`` consumes the updates and reads the new range; the store never
/// pushes payloads.
public protocol SharedLogStore: BufferStore {
    /// Heads committed by any relay. Called once, by the relay's ``LogFollower``; the stream ends
    /// when the store is closed.
    func headUpdates() -> AsyncStream<UInt64>
}

extension ClientRecordStore {
    /// The saved record of one client id, or `nil`. The default loads every record and picks one;
    /// a store that can look one up directly should.
    public func loadClient(_ id: String) async throws -> PersistedClient? {
        try await loadClients().first { $0.id == id }
    }
}
