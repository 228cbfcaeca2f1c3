/// The relay's view of the log, behind its one lock: where the store stands, the newest events
/// for fan-out, and the sessions waiting for something to change.
struct LogView: ~Copyable {
    var state: LogState
    var recent: RecentEvents
    /// Sessions suspended until the head moves or they are woken (an ack, a close).
    var waiters: [UInt64: UnsafeContinuation<Void, Never>] = [:]
    /// Wakes that arrived while their session was not suspended; consumed by its next wait.
    var pendingWakes: Set<UInt64> = []
    /// The head a catch-up from a shared store is bringing the view to (``Relay/catchUp(to:)``):
    /// events up to it arrive at once, and a subscriber that was keeping up is owed all of them.
    var catchUpTarget: UInt64 = 0

    mutating func takeAllWaiters() -> [UnsafeContinuation<Void, Never>] {
        guard !waiters.isEmpty else { return [] }
        let all = Array(waiters.values)
        waiters.removeAll(keepingCapacity: true)
        return all
    }
}

/// What the log offers a cursor at `position` right now.
enum LiveRead {
    /// `count` events were appended to the caller's buffer from memory.
    case events(count: Int)
    /// The cursor is behind the in-memory window: read the store.
    case readStore
    /// The cursor is too far behind (or its events are gone): skip, and tell the client.
    case gap(Gap)
    /// Nothing new after the cursor.
    case caughtUp
}

extension Relay {
    /// Reads what follows `position` for a live cursor, applying the lag cap and retention.
    ///
    /// The lag cap is for subscribers that are slow themselves. One that was `keepingUp` (its
    /// last read found nothing new, or took everything up to the head with room left in its
    /// window) is owed everything a catch-up from a shared store brings (`owedThrough` is raised
    /// to the catch-up's target); below `owedThrough` only retention makes a gap. So a relay that
    /// stalled (SIGSTOP, a lost connection) and then catches up many events at once does not cut
    /// its own subscribers short. `headSeen` is the view's head at this read.
    func readLive(
        after position: UInt64, limit: Int, into buffer: inout [Event], owedThrough: inout UInt64, keepingUp: Bool, headSeen: inout UInt64
    ) -> LiveRead {
        log.withLock { view in
            let state = view.state
            headSeen = state.head
            if keepingUp { owedThrough = max(owedThrough, view.catchUpTarget) }
            let lagCap = UInt64(configuration.lagCap)
            if position >= owedThrough, state.head > position, state.head - position > lagCap {
                let to = state.head - lagCap
                let retainedFloor = state.oldest &- 1
                if retainedFloor > to, retainedFloor > position {
                    return .gap(Gap(from: position + 1, to: retainedFloor, reason: state.trims.reason(for: retainedFloor) ?? .evicted))
                }
                return .gap(Gap(from: position + 1, to: to, reason: .lagCap))
            }
            if position + 1 < state.oldest, position < state.head {
                let to = state.oldest - 1
                return .gap(Gap(from: position + 1, to: to, reason: state.trims.reason(for: to) ?? .evicted))
            }
            guard state.head > position else { return .caughtUp }
            guard view.recent.covers(after: position) else { return .readStore }
            let count = view.recent.read(after: position, limit: limit, into: &buffer)
            return count > 0 ? .events(count: count) : .readStore
        }
    }

    /// The gap for events a store read found trimmed, with the reason its trim history (or the
    /// relay's view of it) records; `evicted` when neither knows yet.
    func trimGap(from: UInt64, to: UInt64, trims: TrimHistory?) -> Gap {
        let reason = trims?.reason(for: to) ?? logState.trims.reason(for: to) ?? .evicted
        return Gap(from: from, to: to, reason: reason)
    }

    /// Suspends the session until the head passes `position` or someone wakes it.
    func waitForChange(session id: UInt64, after position: UInt64?) async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let resumeNow = log.withLock { view in
                    if view.pendingWakes.remove(id) != nil { return true }
                    if let position, view.state.head > position { return true }
                    if Task.isCancelled { return true }
                    view.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            wake(session: id)
        }
    }

    /// Wakes one session: resumes it if suspended, or makes its next wait return at once.
    func wake(session id: UInt64) {
        let continuation = log.withLock { view in
            if let continuation = view.waiters.removeValue(forKey: id) { return Optional(continuation) }
            view.pendingWakes.insert(id)
            return nil
        }
        continuation?.resume()
    }

    /// Forgets a closed session's wait state.
    func forgetWaits(session id: UInt64) {
        let continuation = log.withLock { view in
            view.pendingWakes.remove(id)
            return view.waiters.removeValue(forKey: id)
        }
        continuation?.resume()
    }
}
