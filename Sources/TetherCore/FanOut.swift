import Synchronization

/// The relay's fan-out: its view of the log (where the store stands, the newest events in
/// memory), the sessions waiting for it to change, and the rule that wakes them. A ``Session``
/// reads events through it alone, from memory or from the store; the publish drainer, the
/// health sweep and (over a shared log) the ``LogFollower`` move the view forward through it.
///
/// The wake rule: a waiting session resumes when the head passes its position, when something
/// wakes it (an acknowledgement that freed its window, its end), or when its task is cancelled.
/// A session whose own window is full waits for a wake alone: appends do not resume it.
/// A wake that arrives while the session is not waiting is kept for its next wait, so none is
/// lost between a read that found nothing and the wait that follows it.
///
/// Over a ``SharedLogStore`` the view only moves forward by applying contiguous events
/// (FanOut+SharedLog.swift), so that ``RecentEvents`` never skips what another relay committed.
///
/// Ownership: the view (``LogView``) is behind this type's one `Mutex`; no lock is held across an
/// `await`, and the relay never takes it while it holds its client lock.
public final class FanOut: Sendable {
    let store: any BufferStore
    /// Whether other relays append to the log too (``BufferStore/sharedLog``).
    let shared: Bool
    let configuration: RelayConfiguration
    let view: Mutex<LogView>

    init(store: any BufferStore, shared: Bool, configuration: RelayConfiguration) {
        self.store = store
        self.shared = shared
        self.configuration = configuration
        self.view = Mutex(
            LogView(
                state: LogState(epoch: Epoch(rawValue: ""), head: 0, oldest: 1, depthEvents: 0, depthBytes: 0, trims: TrimHistory()),
                recent: RecentEvents(maxEvents: configuration.recentEvents, maxBytes: configuration.recentBytes)
            )
        )
    }

    /// Where the log stands, as this relay last saw it (no store round trip).
    public var state: LogState { view.withLock { $0.state } }

    /// Events held in memory for fan-out.
    var recentCount: Int { view.withLock { $0.recent.count } }

    /// Starts the view at the opened store's `state` with its newest events in memory.
    func open(_ state: LogState) async throws {
        let window = UInt64(configuration.recentEvents)
        let recent = try await store.read(after: max(state.head, window) - window, limit: configuration.recentEvents, maxBytes: configuration.recentBytes)
        view.withLock { view in
            view.state = state
            view.recent.append(contentsOf: recent)
            // Over a shared log another relay may have appended between `open` and `read`.
            view.state.head = max(state.head, recent.last?.seq ?? 0)
        }
    }

    // MARK: Moving the view

    /// Takes a local append's events into the view and wakes every waiting session.
    func apply(_ outcome: AppendOutcome) {
        if shared {
            // Other relays append too: only apply what directly follows the view.
            applyShared(outcome)
            return
        }
        let waiting = view.withLock { view in
            view.state = outcome.log
            view.recent.append(contentsOf: outcome.appended)
            view.recent.trim(below: outcome.log.oldest)
            return view.takeAllWaiters()
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Takes the store's figures from a health sweep's probe (see ``LogView/absorb(_:keepingHead:)``).
    func absorb(_ probe: LogState) {
        view.withLock { $0.absorb(probe, keepingHead: shared) }
    }

    // MARK: Waiting

    /// Suspends the session until the head passes `position` or someone wakes it (`nil`: its
    /// window is full, and only a wake resumes it).
    func waitForChange(session id: UInt64, after position: UInt64?) async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let resumeNow = view.withLock { view in
                    if view.pendingWakes.remove(id) != nil { return true }
                    if let position, view.state.head > position { return true }
                    if Task.isCancelled { return true }
                    if position == nil { view.heldBack[id] = .task(continuation) } else { view.waiters[id] = .task(continuation) }
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            wake(session: id)
        }
    }

    /// The waiting of ``Session/poll(into:onChange:)``: registers `wake` to be called once, when the
    /// head passes `position` (any change when `nil`) or something wakes the session. Returns
    /// `false`, registering nothing, when that already happened: the caller reads again.
    func register(session id: UInt64, after position: UInt64?, wake: @escaping @Sendable () -> Void) -> Bool {
        view.withLock { view in
            if view.pendingWakes.remove(id) != nil { return false }
            if let position, view.state.head > position { return false }
            if position == nil { view.heldBack[id] = .callback(wake) } else { view.waiters[id] = .callback(wake) }
            return true
        }
    }

    /// Wakes one session: resumes it if suspended, or makes its next wait return at once.
    func wake(session id: UInt64) {
        let waiter = view.withLock { view in
            if let waiter = view.waiters.removeValue(forKey: id) ?? view.heldBack.removeValue(forKey: id) { return Optional(waiter) }
            view.pendingWakes.insert(id)
            return nil
        }
        waiter?.resume()
    }

    /// Forgets a closed session's wait state.
    func forgetWaits(session id: UInt64) {
        let waiter = view.withLock { view in
            view.pendingWakes.remove(id)
            return view.waiters.removeValue(forKey: id) ?? view.heldBack.removeValue(forKey: id)
        }
        waiter?.resume()
    }
}
