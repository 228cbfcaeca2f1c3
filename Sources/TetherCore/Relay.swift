public import Logging
public import struct Foundation.Date
import Synchronization

/// The relay core: one shared log behind a ``BufferStore``, the subscribers' cursors into it, and
/// the client table. No networking: transports call ``publish(_:)`` and ``subscribe(_:transport:remote:)``.
///
/// Invariants (each defended by tests):
/// 1. Sequence numbers are unique and strictly increasing within an epoch: the store assigns
///    them, and one append runs at a time (publishes are group-committed by a single drainer).
/// 2. A subscriber's events come from one cursor over the log, replay and live alike, so a
///    resume yields every retained event after its sequence, in order, once; anything not
///    retained is a ``Gap`` it is told about.
/// 4. Memory is the log's retention window plus O(1) per client: a subscriber holds a cursor and
///    an in-flight window of sequence numbers, never a copy of events.
///
/// Ownership: the view of the log, the recent events and the waiting sessions belong to the
/// ``FanOut`` (its own lock); the client records and attached sessions to the ``ClientTable``
/// (its own lock); the publish queue is behind the relay's one `Mutex`, the health status behind
/// another. No lock is held across an `await`, and the fan-out's lock is never taken while the
/// client table's is held.
///
/// Who calls whom: the relay calls the fan-out, the client table and the store; a ``Session``
/// calls the fan-out and the client table; neither of those calls the relay, and the client
/// table calls a session back only under its lock, for what takes the session's own lock alone.
public final class Relay: Sendable {
    public let store: any BufferStore
    /// The store's client records (``BufferStore/clientRecords``), resolved once here: `nil` for
    /// a store that keeps none.
    public let clientRecords: (any ClientRecordStore)?
    /// The store as a log other relays append to (``BufferStore/sharedLog``), resolved once here:
    /// `nil` when this relay is the log's only writer.
    public let sharedLog: (any SharedLogStore)?
    public let configuration: RelayConfiguration
    public let logger: Logger
    public let counters = RelayCounters()
    public let histograms = RelayHistograms()
    let now: @Sendable () -> Date
    /// Where every transport admits clients: tokens, connection slots, publish rate, refusals.
    public let gate: AdmissionGate
    /// Subscriber connections open, authenticated and pending (``AdmissionGate/connections``).
    public var connections: ConnectionLimits { gate.connections }

    /// The view of the log, the newest events and the waiting sessions; every session reads
    /// through it.
    public let fanOut: FanOut
    /// Every client record and attached session (its own lock).
    let clients: ClientTable
    /// Publishes waiting for the store (PublishQueue.swift).
    let queue = Mutex(PublishQueue())
    let health = Mutex(HealthStatus())
    private let nextSessionID = Atomic<UInt64>(1)

    public init(
        store: any BufferStore,
        configuration: RelayConfiguration = RelayConfiguration(),
        logger: Logger = Logger(label: "tether.relay"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.clientRecords = store.clientRecords
        self.sharedLog = store.sharedLog
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.gate = AdmissionGate(configuration: configuration, counters: counters, logger: logger, now: now)
        self.fanOut = FanOut(store: store, shared: sharedLog != nil, configuration: configuration)
        self.clients = ClientTable(configuration: configuration, logger: logger, counters: counters, histograms: histograms, now: now)
    }

    /// Opens the store. Call once, before anything else.
    public func start() async throws {
        let state = try await store.open()
        if let durable = clientRecords {
            let saved = try await durable.loadClients()
            clients.restore(saved)
            if !saved.isEmpty { logger.info("restored client records", metadata: ["clients": "\(saved.count)"]) }
        }
        try await fanOut.open(state)
        health.withLock { $0.lastProof = now() }
        logger.info(
            "buffer store open",
            metadata: ["epoch": "\(state.epoch)", "head": "\(state.head)", "retained": "\(state.depthEvents)"]
        )
    }

    /// Where the log stands, as the relay last saw it (no store round trip).
    public var logState: LogState { fanOut.state }

    // MARK: Publishing

    /// Sequences and stores `drafts` as one all-or-nothing unit, and returns their sequence
    /// numbers once the store has accepted them (committed, for a durable store). Concurrent
    /// calls are group-committed: while one append runs, the next calls gather into one batch.
    /// The batches are drained by the relay's ``PublishDrainer`` once it was made (a publish then
    /// waits for that service to run), and otherwise by a task the relay starts when none runs.
    public func publish(_ drafts: [EventDraft]) async throws(RelayError) -> [UInt64] {
        guard !drafts.isEmpty else { return [] }
        let result: Result<[UInt64], RelayError> = await withCheckedContinuation { continuation in
            publish(drafts) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// ``publish(_:)`` for a caller that is not a task: an event-loop connection hands its batch
    /// over without a task of its own, and `completion` is called once with the outcome, on the
    /// drainer's thread (or at once, when the relay is closing), so it must only hop back.
    public func publish(_ drafts: [EventDraft], completion: @escaping @Sendable (Result<[UInt64], RelayError>) -> Void) {
        guard !drafts.isEmpty else { return completion(.success([])) }
        let lead = queue.withLock { queue in queue.enqueue(PublishQueue.Pending(drafts: drafts, completion: completion)) }
        switch lead {
        case .refused:
            completion(.failure(.storeUnavailable(RelayClosed())))
        case .startDrainer(let generation):
            // No drainer service: this relay drains in a task of its own, one at a time.
            let drainer = Task { await self.drainPublishQueue() }
            // A later drainer may have started already (this one ended at once): keep the newest.
            queue.withLock { if $0.drainerGeneration == generation { $0.drainer = drainer } }
        case .wakeService(let service):
            service?.resume()
        case .queued:
            break
        }
    }

    /// Stops taking publishes, lets the drainer finish what it holds (every queued producer is
    /// answered), saves the client records changed since the last health sweep (the connections
    /// have ended by now: their cursors, counters and the time each client left), then closes the
    /// store. Call once nothing else uses the relay (``StoreLifetime`` does, last in the service
    /// group, after the ``PublishDrainer`` returned); later calls do nothing.
    ///
    /// - Throws: what the store's `close` throws.
    public func close() async throws {
        let first = queue.withLock { queue in
            defer { queue.closing = true }
            return !queue.closing
        }
        guard first else { return }
        stopTakingPublishes()
        await drainersEnded()
        // Left only when the drainer service never ran (its group failed before it started).
        let stranded = queue.withLock { queue in
            defer { queue.pending.removeAll() }
            return queue.pending
        }
        for pending in stranded { pending.completion(.failure(.storeUnavailable(RelayClosed()))) }
        // Without this a clean stop lost up to one sweep interval of acknowledgements, and every
        // client's disconnect time, from the saved records.
        let (changed, forgotten) = clients.takeUnsaved()
        await saveClientRecords(changed: changed, forgotten: forgotten)
        try await store.close()
    }

    // MARK: Reading

    /// Up to `limit` retained events after `seq`, for pollers and debugging; a page read from the
    /// store ends early at ``RelayConfiguration/readPageBytes`` (callers continue after its last).
    public func events(after seq: UInt64, limit: Int) async throws(RelayError) -> (log: LogState, events: [Event]) {
        try await fanOut.events(after: seq, limit: limit)
    }

    // MARK: Health

    /// The health monitor's last proof that the core and the store answered, and the last error.
    public var healthStatus: HealthStatus { health.withLock { $0 } }

    /// The watchdog's proof of life: one round trip through the core (its log view's lock) and
    /// the store (`state()`), returning the time it completed. Throws what the store threw; never
    /// returns while the store is wedged, so callers wait for it with their own deadline
    /// (``Watchdog`` does). Records nothing in ``healthStatus``: readiness follows the sweeps.
    public func probeLiveness() async throws -> Date {
        _ = fanOut.state
        _ = try await store.state()
        // Not absorbed into the view: a probe taken before a concurrent append finished would
        // move the head back, and the sweeps keep the store's figures current.
        return now()
    }

    /// Marks silent sessions stale and forgets disconnected clients past their record TTL
    /// (``ClientTable/sweep(now:head:)``). Returns the records changed since the last sweep and
    /// the ids forgotten, for saving.
    func sweepClients(now time: Date) -> (changed: [PersistedClient], forgotten: [String]) {
        // Read before the client table takes its lock: never the fan-out's lock inside it.
        clients.sweep(now: time, head: logState.head)
    }

    /// One health sweep: stale detection, cleanup of old client records, retention, and a store
    /// probe. On success, records proof of life (what `/readyz` checks).
    public func sweep() async {
        let time = now()
        let (changed, forgotten) = sweepClients(now: time)
        do {
            // Trim before saving client records: on a full disk the trim is what frees pages.
            let trimmed = try await store.trim(configuration.retention, now: time)
            counters.expired.add(UInt64(trimmed.removedEvents), ordering: .relaxed)
            let probe = try await store.state()
            fanOut.absorb(probe)
            let hold = configuration.readinessHoldAfterAppendFailure
            health.withLock { status in
                // A store that still reads may still refuse writes (a full disk), so a failed
                // append keeps the relay unready for a while even though sweeps succeed. Not for
                // ever: a load balancer that stops sending producers would never let a successful
                // append prove recovery.
                let holding = status.appendFailing && status.lastAppendFailure.map { time.timeIntervalSince($0) < hold } ?? false
                var next = HealthStatus(lastProof: time, lastError: holding ? status.lastError : nil)
                next.appendFailing = holding
                next.lastAppendFailure = status.lastAppendFailure
                status = next
            }
        } catch {
            logger.error("health sweep could not reach the buffer store", metadata: ["error": "\(error)"])
            health.withLock { $0.lastError = "store probe failed: \(error)" }
        }
        await saveClientRecords(changed: changed, forgotten: forgotten)
        await checkClaims()
    }

    /// Saves changed client records to a durable store; on failure they stay marked changed, so
    /// the next sweep tries again instead of losing them.
    /// `quiet`: the frequent position saves leave the warning to the health sweep's save.
    func saveClientRecords(changed: [PersistedClient], forgotten: [String], quiet: Bool = false) async {
        guard let durable = clientRecords, !(changed.isEmpty && forgotten.isEmpty) else { return }
        do {
            if !changed.isEmpty { try await durable.saveClients(changed) }
            if !forgotten.isEmpty { try await durable.deleteClients(forgotten) }
        } catch {
            if !quiet { logger.warning(
                "could not save client records; the next health sweep retries",
                metadata: ["error": "\(error)", "clients": "\(changed.count)"]
            ) }
            clients.markChanged(changed)
        }
    }

    func makeSessionID() -> UInt64 {
        nextSessionID.add(1, ordering: .relaxed).oldValue
    }
}

/// The health monitor's verdict: when the core last proved itself responsive, and why not since.
public struct HealthStatus: Sendable, Hashable {
    public var lastProof: Date?
    public var lastError: String?
    /// The newest append failed. Only a successful append clears this and its `lastError`, so
    /// readiness does not come back while the store reads and probes fine but refuses writes
    /// (a full disk or quota).
    public var appendFailing = false
    /// When the newest failed append happened.
    public var lastAppendFailure: Date?

    public init(lastProof: Date? = nil, lastError: String? = nil) {
        self.lastProof = lastProof
        self.lastError = lastError
    }
}
