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
public struct WedgeableStore: BufferStore {
    public let base: any BufferStore
    public let wedge: WedgeSwitch

    public init(_ base: any BufferStore, wedge: WedgeSwitch) {
        self.base = base
        self.wedge = wedge
    }

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
}

/// The same wrapper for a store that keeps client records, so wrapping changes nothing else about
/// a durable store.
public struct WedgeableRecordStore: ClientRecordStore {
    public let inner: WedgeableStore
    public let records: any ClientRecordStore

    public init(_ base: any ClientRecordStore, wedge: WedgeSwitch) {
        inner = WedgeableStore(base, wedge: wedge)
        records = base
    }

    public func open() async throws -> LogState { try await inner.open() }
    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome { try await inner.append(drafts) }
    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] { try await inner.read(after: seq, limit: limit, maxBytes: maxBytes) }
    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome { try await inner.trim(policy, now: now) }
    public func state() async throws -> LogState { try await inner.state() }
    public func close() async throws { try await inner.close() }

    public func loadClients() async throws -> [PersistedClient] {
        try await inner.wedge.passage()
        return try await records.loadClients()
    }

    public func saveClients(_ clients: [PersistedClient]) async throws {
        try await inner.wedge.passage()
        try await records.saveClients(clients)
    }

    public func deleteClients(_ ids: [String]) async throws {
        try await inner.wedge.passage()
        try await records.deleteClients(ids)
    }
}

extension PluginRegistry {
    /// The same registry with every store wrapped so that `wedge` can stall it.
    public func wedgeable(by wedge: WedgeSwitch) -> PluginRegistry {
        var registry = self
        registry.stores = stores.map { descriptor in
            PluginDescriptor(name: descriptor.name, summary: descriptor.summary) { context in
                let store = try await descriptor.make(context)
                if let durable = store as? any ClientRecordStore {
                    return WedgeableRecordStore(durable, wedge: wedge)
                }
                return WedgeableStore(store, wedge: wedge)
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
