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

    /// Records that a connection of `clientID` was just attached on this relay and tells every
    /// relay (``connectionClaims()``). Returns the claim's generation: per client id, later claims
    /// on any relay get higher generations, so of two connections the older one is the one with
    /// the lower generation.
    func claimConnection(_ clientID: String) async throws -> UInt64
    /// Every relay's claims (this relay's own included), soon after they happen; claims made
    /// while a relay's connection to the store was down are not repeated, so the relay also
    /// checks its attached clients with ``connectionGenerations(_:)`` in each sweep.
    func connectionClaims() -> AsyncStream<ConnectionClaim>
    /// The newest claim's generation of each of these client ids (ids never claimed are absent).
    func connectionGenerations(_ clientIDs: [String]) async throws -> [String: UInt64]
}

/// A connection of `clientID` attached on some relay, the `generation`-th of that id.
public struct ConnectionClaim: Sendable, Hashable {
    public var clientID: String
    public var generation: UInt64

    public init(clientID: String, generation: UInt64) {
        self.clientID = clientID
        self.generation = generation
    }
}

extension SharedLogStore {
    public var sharedLog: (any SharedLogStore)? { self }

    /// A shared log without client records has nothing to supersede across relays.
    public func claimConnection(_ clientID: String) async throws -> UInt64 { 0 }
    public func connectionClaims() -> AsyncStream<ConnectionClaim> { AsyncStream { $0.finish() } }
    public func connectionGenerations(_ clientIDs: [String]) async throws -> [String: UInt64] { [:] }
}
