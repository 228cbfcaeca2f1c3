import Synchronization
public import TetherCore
public import struct Foundation.Date

/// One ``Relay/probeLiveness()`` in flight, which the ``Watchdog`` waits for with a deadline.
///
/// The probe runs in its own task, so a wedged store never blocks the caller past its deadline;
/// while it is still in flight the watchdog waits on the same probe again instead of starting
/// another, so a wedge parks one task, not one per tick. Owned by its own `Mutex`: the outcome and
/// the callers waiting for it.
final class LivenessProbe: Sendable {
    /// What the probe ended with: the time it completed, or what the store threw.
    typealias Outcome = Result<Date, any Error>

    private struct State: ~Copyable {
        var outcome: Outcome?
        var waiters: [UInt64: CheckedContinuation<Outcome?, Never>] = [:]
        var expired: Set<UInt64> = []
        var nextTicket: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts `relay.probeLiveness()` at once.
    init(relay: Relay) {
        Task { [self] in
            let outcome: Outcome
            do { outcome = .success(try await relay.probeLiveness()) } catch { outcome = .failure(error) }
            finish(outcome)
        }
    }

    /// Whether the probe has ended (so the next tick starts a new one).
    var isFinished: Bool { state.withLock { $0.outcome != nil } }

    /// The probe's outcome, or `nil` when it has not ended within `deadline`.
    func outcome(within deadline: Duration) async -> Outcome? {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        let timer = Task { [self] in
            do { try await Task.sleep(for: deadline) } catch { return }
            expire(ticket)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome?, Never>) in
            let now = state.withLock { state -> Outcome?? in
                if let outcome = state.outcome { return .some(outcome) }
                if state.expired.remove(ticket) != nil { return .some(nil) }
                state.waiters[ticket] = continuation
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    private func finish(_ outcome: Outcome) {
        let waiters = state.withLock { state in
            state.outcome = outcome
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    private func expire(_ ticket: UInt64) {
        let waiter = state.withLock { state in
            guard state.outcome == nil else { return CheckedContinuation<Outcome?, Never>?.none }
            if let waiter = state.waiters.removeValue(forKey: ticket) { return waiter }
            state.expired.insert(ticket)
            return nil
        }
        waiter?.resume(returning: nil)
    }
}
