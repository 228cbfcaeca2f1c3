/// The fan-out's view of the log, behind its one lock (``FanOut``): where the store stands, the
/// newest events for fan-out, and the sessions waiting for something to change.
struct LogView: ~Copyable {
    var state: LogState
    var recent: RecentEvents
    /// Sessions waiting until the head moves or they are woken (an ack, a close).
    var waiters: [UInt64: Waiter] = [:]
    /// Sessions held back by their own full window: only a wake (the ack that frees it, the end)
    /// resumes them, so an append does not wake subscribers that could not take it.
    var heldBack: [UInt64: Waiter] = [:]
    /// Wakes that arrived while their session was not suspended; consumed by its next wait.
    var pendingWakes: Set<UInt64> = []
    /// The head a catch-up from a shared store is bringing the view to (``FanOut/catchUp(to:pageSize:)``):
    /// events up to it arrive at once, and a subscriber that was keeping up is owed all of them.
    var catchUpTarget: UInt64 = 0

    mutating func takeAllWaiters() -> [Waiter] {
        guard !waiters.isEmpty else { return [] }
        let all = Array(waiters.values)
        waiters.removeAll(keepingCapacity: true)
        return all
    }
}

/// A session waiting for the fan-out: a task suspended in ``Session/next(into:)``, or the callback
/// a transport gave ``Session/poll(into:onChange:)`` (which schedules the connection's next drain
/// on its event loop). Either is resumed once, outside the fan-out's lock.
enum Waiter: Sendable {
    case task(UnsafeContinuation<Void, Never>)
    case callback(@Sendable () -> Void)

    func resume() {
        switch self {
        case .task(let continuation): continuation.resume()
        case .callback(let wake): wake()
        }
    }
}

extension LogView {
    /// Takes the store's figures (oldest, depth, trims, epoch) from `probe`. With `keepingHead`, the
    /// head stays the view's own: over a shared log the view only advances by applying events,
    /// so that ``RecentEvents`` never skips what another relay committed.
    mutating func absorb(_ probe: LogState, keepingHead: Bool) {
        guard keepingHead else {
            // An append that committed after the probe left a newer view (its outcome already
            // includes the trim): keep it rather than move the head back.
            if !(probe.epoch == state.epoch && probe.head < state.head) { state = probe }
            recent.trim(below: state.oldest)
            return
        }
        let head = state.head
        state = probe
        state.head = head
        state.oldest = min(probe.oldest, head + 1)
        recent.trim(below: state.oldest)
    }
}
