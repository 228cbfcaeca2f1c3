/// The relay was closed (``Relay/close()``): it takes no more publishes.
struct RelayClosed: Error, CustomStringConvertible {
    var description: String { "the relay is shutting down" }
}

/// Publishes waiting for the store, gathered into batches by one drainer at a time. Owned by the
/// relay's queue lock.
///
/// Who drains: the relay's ``PublishDrainer`` once it was made (`tether serve` runs it in the
/// service group); a relay used without services (tests, benchmarks) drains in a task that the
/// publish finding no drainer starts. Never both: the service is made before the first publish.
struct PublishQueue: ~Copyable {
    struct Pending {
        var drafts: [EventDraft]
        /// Told the outcome once, from the drainer (or from `close`, for a publish left over).
        var completion: @Sendable (Result<[UInt64], RelayError>) -> Void
    }

    var pending: [Pending] = []
    /// A drainer task runs, or is about to: set under the lock by the publish that leads.
    var draining = false
    /// The newest drainer task, for ``Relay/close()`` to wait for, and its generation.
    var drainer: Task<Void, Never>?
    var drainerGeneration: UInt64 = 0
    /// The relay's ``PublishDrainer`` drains this queue: publishes only wake it.
    var servedByService = false
    /// The drainer service's `run` is between its start and its end.
    var serviceRunning = false
    /// The drainer service, waiting for a publish or for publishing to stop.
    var idleService: CheckedContinuation<Void, Never>?
    /// ``Relay/close()`` calls waiting for the drainer service to end.
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Publishes are refused from now on (the drainer service stopped, or the relay closes).
    var closed = false
    /// ``Relay/close()`` was called (later calls do nothing).
    var closing = false

    /// What a publish does after it queued its request.
    enum Lead {
        /// The relay takes no more publishes: the request was not queued.
        case refused
        /// A drainer is at work and takes the request in a later batch.
        case queued
        /// No drainer runs and there is no drainer service: start a drainer task.
        case startDrainer(generation: UInt64)
        /// Resume the drainer service if it waits (`nil`: it is busy and looks again).
        case wakeService(CheckedContinuation<Void, Never>?)
    }

    mutating func enqueue(_ request: Pending) -> Lead {
        guard !closed else { return .refused }
        pending.append(request)
        if servedByService {
            defer { idleService = nil }
            return .wakeService(idleService)
        }
        guard !draining else { return .queued }
        draining = true
        drainerGeneration += 1
        return .startDrainer(generation: drainerGeneration)
    }

    /// Takes whole requests until `maxEvents` is reached (a request is never split). Clears
    /// `draining` when there is nothing left, so the next publish starts a new drainer.
    mutating func takeBatch(maxEvents: Int) -> [Pending] {
        guard !pending.isEmpty else {
            draining = false
            return []
        }
        var count = 0
        var taken = 0
        while taken < pending.count, taken == 0 || count + pending[taken].drafts.count <= maxEvents {
            count += pending[taken].drafts.count
            taken += 1
        }
        let batch = Array(pending[..<taken])
        pending.removeFirst(taken)
        return batch
    }
}
