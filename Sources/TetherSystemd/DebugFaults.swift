public import Logging
public import ServiceLifecycle
public import TetherCore
import Synchronization
public import struct Foundation.Date
import UnixSignals

/// A debug-only fault switch that wedges the relay's store, so tests can show that a wedged core
/// stops the watchdog pings (invariant 6). Off unless `tether serve --debug-faults` is given:
/// only then is the store wrapped in a ``WedgeableStore`` and are SIGUSR1 (wedge) and SIGUSR2
/// (release) trapped by ``DebugFaultSignals``.
///
/// Owned by its own `Mutex`: the flag and the callers parked while wedged.
public final class WedgeSwitch: Sendable {
    private struct State: ~Copyable {
        var wedged = false
        var parked: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextTicket: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isWedged: Bool { state.withLock { $0.wedged } }

    public func wedge() {
        state.withLock { $0.wedged = true }
    }

    public func release() {
        let parked = state.withLock { state in
            state.wedged = false
            defer { state.parked.removeAll() }
            return Array(state.parked.values)
        }
        for continuation in parked { continuation.resume() }
    }

    /// Returns at once when not wedged; otherwise waits for ``release()``. Cancellation (graceful
    /// shutdown of the caller) ends the wait with `CancellationError`.
    public func passage() async throws {
        let ticket = state.withLock { state -> UInt64? in
            guard state.wedged else { return nil }
            state.nextTicket += 1
            return state.nextTicket
        }
        guard let ticket else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    // Checked under the lock, so a cancellation that ran before parking is seen here.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    guard state.wedged else { return .success(()) }
                    state.parked[ticket] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let parked = state.withLock { $0.parked.removeValue(forKey: ticket) }
            parked?.resume(throwing: CancellationError())
        }
    }
}

/// A ``BufferStore`` whose every call waits at a ``WedgeSwitch`` first (except `close`, so that
/// shutdown still completes). Wrapping the store wedges the core where a real fault would: the
/// health sweep and the watchdog's liveness probe never return, so no ping is sent.
///
/// It keeps every capability of the store it wraps, and nothing more: ``clientRecords`` and
/// ``sharedLog`` are this wrapper exactly when they are the wrapped store's, so a wrapped
/// PostgreSQL store still follows the shared log and binds client ids with its compare-and-set.
/// (The capability methods are only reached through those two properties, so the wrapped store
/// always has what they forward to.) The streams of a shared log are passed through unwedged:
/// they only say "look again", and every look goes through a wedged call.
public struct WedgeableStore: ClientRecordStore, SharedLogStore {
    public let base: any BufferStore
    public let wedge: WedgeSwitch
    private let baseRecords: (any ClientRecordStore)?
    private let baseShared: (any SharedLogStore)?

    public init(_ base: any BufferStore, wedge: WedgeSwitch) {
        self.base = base
        self.wedge = wedge
        baseRecords = base.clientRecords
        baseShared = base.sharedLog
    }

    public var clientRecords: (any ClientRecordStore)? { baseRecords == nil ? nil : self }
    public var sharedLog: (any SharedLogStore)? { baseShared == nil ? nil : self }

    public func open() async throws -> LogState {
        try await wedge.passage()
        return try await base.open()
    }

    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome {
        try await wedge.passage()
        return try await base.append(drafts)
    }

    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        try await wedge.passage()
        return try await base.read(after: seq, limit: limit, maxBytes: maxBytes)
    }

    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome {
        try await wedge.passage()
        return try await base.trim(policy, now: now)
    }

    public func state() async throws -> LogState {
        try await wedge.passage()
        return try await base.state()
    }

    public func close() async throws {
        try await base.close()
    }

    // MARK: ClientRecordStore, when the wrapped store is one

    private func records() async throws -> any ClientRecordStore {
        try await wedge.passage()
        guard let baseRecords else { throw MissingCapability(name: "ClientRecordStore") }
        return baseRecords
    }

    public func loadClients() async throws -> [PersistedClient] { try await records().loadClients() }
    public func loadClient(_ id: String) async throws -> PersistedClient? { try await records().loadClient(id) }
    public func saveClients(_ clients: [PersistedClient]) async throws { try await records().saveClients(clients) }
    public func deleteClients(_ ids: [String]) async throws { try await records().deleteClients(ids) }
    public func bindClient(_ client: PersistedClient) async throws -> PersistedClient { try await records().bindClient(client) }

    // MARK: SharedLogStore, when the wrapped store is one

    private func shared() async throws -> any SharedLogStore {
        try await wedge.passage()
        guard let baseShared else { throw MissingCapability(name: "SharedLogStore") }
        return baseShared
    }

    public func headUpdates() -> AsyncStream<UInt64> { baseShared?.headUpdates() ?? AsyncStream { $0.finish() } }
    public func connectionClaims() -> AsyncStream<ConnectionClaim> { baseShared?.connectionClaims() ?? AsyncStream { $0.finish() } }
    public func claimConnection(_ clientID: String) async throws -> UInt64 { try await shared().claimConnection(clientID) }
    public func connectionGenerations(_ clientIDs: [String]) async throws -> [String: UInt64] {
        try await shared().connectionGenerations(clientIDs)
    }

    /// A capability method called on a wrapper that does not advertise it (a caller that ignored
    /// ``clientRecords`` or ``sharedLog``).
    struct MissingCapability: Error, CustomStringConvertible {
        var name: String
        var description: String { "the wrapped store is not a \(name)" }
    }
}

extension PluginRegistry {
    /// The same registry with every store wrapped so that `wedge` can stall it.
    public func wedgeable(by wedge: WedgeSwitch) -> PluginRegistry {
        var registry = self
        registry.stores = stores.map { descriptor in
            PluginDescriptor(name: descriptor.name, summary: descriptor.summary) { context in
                WedgeableStore(try await descriptor.make(context), wedge: wedge)
            }
        }
        return registry
    }
}

/// Traps SIGUSR1 (wedge the store) and SIGUSR2 (release it) while it runs; started only with
/// `--debug-faults`.
public struct DebugFaultSignals: Service {
    public let wedge: WedgeSwitch
    public let logger: Logger

    public init(wedge: WedgeSwitch, logger: Logger) {
        self.wedge = wedge
        self.logger = logger
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr1, .sigusr2)
        let (wedge, logger) = (wedge, logger)
        await cancelWhenGracefulShutdown {
            for await signal in signals {
                if signal == .sigusr1 {
                    wedge.wedge()
                    logger.warning("debug fault: store wedged (SIGUSR1); send SIGUSR2 to release")
                } else {
                    wedge.release()
                    logger.warning("debug fault: store released (SIGUSR2)")
                }
            }
        }
    }
}
