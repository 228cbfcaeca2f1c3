/// How a relay over a ``SharedLogStore`` keeps its in-memory view of the log contiguous while other
/// relays append to the same log.
///
/// Two paths advance the view, both under the log lock and both only forward:
/// - the publish drainer applies its own append's events when they directly follow the view's
///   head; when another relay committed in between, it leaves them to the follower;
/// - ``catchUp(to:)`` (driven by the ``LogFollower``) reads whatever follows the view's head from
///   the store and applies it. A store read is complete (commit order equals sequence order), so
///   a hole in it is a trimmed range, never a not-yet-committed one.
/// Events at or below the view's head are skipped, so the two paths may race without duplicating
/// or reordering anything in ``RecentEvents``.
extension Relay {
    /// Applies a local append's outcome to the view of a shared log.
    func applyShared(_ outcome: AppendOutcome) {
        let waiting = log.withLock { view -> [UnsafeContinuation<Void, Never>] in
            var advanced = false
            for event in outcome.appended where event.seq > view.state.head {
                guard event.seq == view.state.head + 1 else { break }
                view.recent.append(contentsOf: CollectionOfOne(event))
                view.state.head = event.seq
                advanced = true
            }
            view.absorb(outcome.log, keepingHead: true)
            return advanced ? view.takeAllWaiters() : []
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Reads and applies everything the store holds after the view's head, until the view reaches
    /// `target` or the store has nothing more. Returns the view's head afterwards.
    ///
    /// - Throws: what the store throws on read; the view keeps what it had.
    @discardableResult
    public func catchUp(to target: UInt64, pageSize: Int = 1024) async throws -> UInt64 {
        var head = log.withLock { view in
            view.catchUpTarget = max(view.catchUpTarget, target)
            return view.state.head
        }
        while head < target {
            let events = try await store.read(after: head, limit: max(1, pageSize), maxBytes: configuration.readPageBytes)
            guard let last = events.last else { break }
            let waiting = log.withLock { view -> [UnsafeContinuation<Void, Never>] in
                let fresh = events.drop { $0.seq <= view.state.head }
                guard let first = fresh.first, let newest = fresh.last else { return [] }
                if first.seq > view.state.head + 1 {
                    // Nothing between the old head and the first event read is left: trimmed.
                    view.state.oldest = max(view.state.oldest, first.seq)
                    view.recent.trim(below: view.state.oldest)
                }
                view.recent.append(contentsOf: fresh)
                view.state.head = newest.seq
                return view.takeAllWaiters()
            }
            for continuation in waiting { continuation.resume() }
            head = max(logState.head, last.seq)
        }
        return head
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
