/// How the fan-out over a ``SharedLogStore`` keeps its in-memory view of the log contiguous while other
/// relays append to the same log.
///
/// Two paths advance the view, both under the log lock and both only forward:
/// - ``apply(_:)`` (the publish drainer) applies its own append's events when they directly follow the view's
///   head; when another relay committed in between, it leaves them to the follower;
/// - ``catchUp(to:)`` (driven by the ``LogFollower``) reads whatever follows the view's head from
///   the store and applies it. A store read is complete (commit order equals sequence order), so
///   a hole in it is a trimmed range, never a not-yet-committed one.
/// Events at or below the view's head are skipped, so the two paths may race without duplicating
/// or reordering anything in ``RecentEvents``.
extension FanOut {
    /// Applies a local append's outcome to the view of a shared log.
    func applyShared(_ outcome: AppendOutcome) {
        let waiting = view.withLock { view -> [Waiter] in
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
        for waiter in waiting { waiter.resume() }
    }

    /// Reads and applies everything the store holds after the view's head, until the view reaches
    /// `target` or the store has nothing more. Returns the view's head afterwards.
    ///
    /// - Throws: what the store throws on read; the view keeps what it had.
    @discardableResult
    public func catchUp(to target: UInt64, pageSize: Int = 1024) async throws -> UInt64 {
        var head = view.withLock { view in
            view.catchUpTarget = max(view.catchUpTarget, target)
            return view.state.head
        }
        while head < target {
            let events = try await store.read(after: head, limit: max(1, pageSize), maxBytes: configuration.readPageBytes)
            guard let last = events.last else { break }
            let waiting = view.withLock { view -> [Waiter] in
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
            for waiter in waiting { waiter.resume() }
            head = max(state.head, last.seq)
        }
        return head
    }
}
