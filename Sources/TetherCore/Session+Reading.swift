import Synchronization

/// Reading: how a session takes events from the fan-out for its transport, as a task that waits
/// (``Session/next(into:)``) or as an event loop that is called back (``Session/poll(into:onChange:)``);
/// both share one read step, the topic filter and the window's bookkeeping.
extension Session {
    /// Waits for deliverable events and appends them to `buffer` (in order, at most the free
    /// part of the window), or returns a gap the transport must report before anything else.
    ///
    /// Returns `nil` after appending at least one event. Steady-state delivery from memory does
    /// not allocate when `buffer` has capacity for a window.
    ///
    /// - Throws: the ``RelayError`` that ended the session (superseded, shut down, store
    ///   unavailable on a replay read) or `CancellationError`.
    public func next(into buffer: inout [Event]) async throws -> Interruption? {
        while true {
            try Task.checkCancellation()
            let step = read(into: &buffer)
            switch step {
            case .ended(let error):
                throw error
            case .delivered:
                return nil
            case .gap(let gap):
                return .gap(gap)
            case .wait(let position):
                await fanOut.waitForChange(session: id, after: position)
            case .readStore(let page):
                switch try await readStore(page, into: &buffer) {
                case .delivered: return nil
                case .gap(let gap): return .gap(gap)
                case .again: continue
                }
            }
        }
    }

    /// ``next(into:)`` for a transport that is called back instead of waiting: an event-loop
    /// handler whose ``poll(into:onChange:)`` said ``Poll/needsStoreRead``. The read runs in a
    /// task of its own, which then calls `completion` with the page (or the gap, or the error
    /// that ended the session); the handler hops back to its loop from there.
    public func readPage(_ completion: @escaping @Sendable (Result<(Interruption?, [Event]), any Error>) -> Void) {
        Task {
            var page: [Event] = []
            do {
                let interruption = try await next(into: &page)
                completion(.success((interruption, page)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// What a store read in ``next(into:)`` came to.
    private enum StoreStep {
        case delivered
        case gap(Gap)
        case again
    }

    /// Reads a page from the store for a cursor behind the fan-out's memory (a replay).
    private func readStore(_ page: StorePage, into buffer: inout [Event]) async throws -> StoreStep {
        let start = buffer.count
        switch try await fanOut.readStore(after: page.position, limit: page.scan, into: &buffer) {
        case .events:
            return deliver(from: start, free: page.free, in: &buffer, headSeen: page.headSeen) ? .delivered : .again
        case .gap(let gap):
            skip(gap)
            return .gap(gap)
        case .caughtUp:
            cursor.withLock { $0.keepingUp = true }
            await fanOut.waitForChange(session: id, after: page.position)
            return .again
        case .readStore:
            return .again
        }
    }

    /// What ``poll(into:onChange:)`` found.
    public enum Poll: Sendable, Hashable {
        /// Events were appended to the buffer.
        case delivered
        /// Report this first, then poll again.
        case interrupted(Interruption)
        /// Nothing to send now: the `onChange` callback was registered and will be called once,
        /// when there is something (or the session ended).
        case waiting
        /// The cursor is behind the fan-out's memory (a replay): call ``next(into:)`` once, from a
        /// task, and poll again after it returns.
        case needsStoreRead
    }

    /// The non-suspending form of ``next(into:)``, for a transport that drives its connection
    /// from an event loop instead of a task: appends what can be delivered from memory right
    /// now, or registers `onChange` with the fan-out and returns ``Poll/waiting``. `onChange` is
    /// called at most once per registration, from whichever thread moved the fan-out (an append,
    /// an ack that freed the window, the session's end), so it should only schedule the next
    /// poll, not do it.
    ///
    /// - Throws: the ``RelayError`` that ended the session.
    public func poll(into buffer: inout [Event], onChange: @escaping @Sendable () -> Void) throws(RelayError) -> Poll {
        while true {
            switch read(into: &buffer) {
            case .ended(let error):
                throw error
            case .delivered:
                return .delivered
            case .gap(let gap):
                return .interrupted(.gap(gap))
            case .wait(let position):
                if fanOut.register(session: id, after: position, wake: onChange) { return .waiting }
            case .readStore:
                return .needsStoreRead
            }
        }
    }

    /// One step of reading, shared by ``next(into:)`` and ``poll(into:onChange:)``.
    private enum ReadStep {
        /// The session ended, for this reason.
        case ended(RelayError)
        case delivered
        case gap(Gap)
        /// Nothing deliverable: wait until the head passes `position` (`nil`: until woken, as
        /// when the window is full).
        case wait(after: UInt64?)
        case readStore(StorePage)
    }

    /// Where a store read starts and how much it may deliver.
    private struct StorePage {
        var position: UInt64
        var scan: Int
        var free: Int
        var headSeen: UInt64
    }

    /// Reads what the fan-out holds in memory after the cursor, within the window. It returns the
    /// session's end as ``ReadStep/ended(_:)`` rather than throwing it: with a typed throw here
    /// the Swift 6.3 optimizer crashed (signal 11, splitting the coroutine of ``next(into:)``).
    private func read(into buffer: inout [Event]) -> ReadStep {
        while true {
            let (position, free, ended, keepingUp, owed) = cursor.withLock { ($0.position, $0.window.freeSlots, $0.ended, $0.keepingUp, $0.owedThrough) }
            if let ended { return .ended(ended) }
            guard free > 0 else {
                // Held back by its own acknowledgements: what arrives meanwhile is its own lag.
                cursor.withLock { $0.keepingUp = false }
                return .wait(after: nil)
            }
            let start = buffer.count
            // Scan more than the window holds when filtering by topic, so a rare topic is found
            // without a round trip per unrelated event.
            let scan = topics == nil ? free : max(free, 1024)
            var owedThrough = owed
            var headSeen: UInt64 = 0
            let live = fanOut.readLive(after: position, limit: scan, into: &buffer, owedThrough: &owedThrough, keepingUp: keepingUp, headSeen: &headSeen)
            // Raised only by a shared store's catch-up: no extra lock on an ordinary wake.
            if owedThrough != owed { cursor.withLock { $0.owedThrough = max($0.owedThrough, owedThrough) } }
            switch live {
            case .caughtUp:
                cursor.withLock { $0.keepingUp = true }
                return .wait(after: position)
            case .gap(let gap):
                skip(gap)
                return .gap(gap)
            case .events:
                // Everything read may have been filtered out by topic: read on.
                if deliver(from: start, free: free, in: &buffer, headSeen: headSeen) { return .delivered }
            case .readStore:
                return .readStore(StorePage(position: position, scan: scan, free: free, headSeen: headSeen))
            }
        }
    }

    /// Filters the freshly read `buffer[start...]` by topic, keeps at most `free`, and advances
    /// the cursor past everything examined. Returns whether anything is left to deliver.
    func deliver(from start: Int, free: Int, in buffer: inout [Event], headSeen: UInt64) -> Bool {
        guard start < buffer.count else { return false }
        var kept = start
        var examinedThrough = buffer[start].seq
        for index in start..<buffer.count {
            let event = buffer[index]
            if let topics, !topics.contains(event.topic) {
                examinedThrough = event.seq
                continue
            }
            if kept - start == free { break }
            buffer.swapAt(kept, index)
            kept += 1
            examinedThrough = event.seq
        }
        buffer.removeSubrange(kept...)
        let count = kept - start
        cursor.withLock { cursor in
            cursor.position = max(cursor.position, examinedThrough)
            for index in start..<kept { cursor.window.sent(buffer[index]) }
            // Keeping up: it took everything there was, and its window still has room (a full
            // window means its own acknowledgements hold it back).
            cursor.keepingUp = cursor.position >= headSeen && !cursor.window.isFull
            if count > 0 {
                cursor.delivered = buffer[kept - 1].seq
                cursor.deliveredSinceSync += UInt64(count)
            }
        }
        guard count > 0 else { return false }
        counters.delivered.add(UInt64(count), ordering: .relaxed)
        return true
    }

    func skip(_ gap: Gap) {
        cursor.withLock { cursor in
            cursor.keepingUp = false
            cursor.position = max(cursor.position, gap.to)
            // A declared gap counts as delivered: the subscriber may acknowledge its end, as it
            // may after a gap declared in the welcome (whose cursor starts at the gap's end).
            cursor.delivered = max(cursor.delivered, gap.to)
        }
        counters.countDropped(gap)
        clients.updateRecord(of: self) { record in
            Transition(
                event: .slowConsumer, record: record, sessionID: id,
                message: "subscriber skipped seq \(gap.from)...\(gap.to) (\(counted(gap.count, "event"))), reason \(gap.reason.rawValue)",
                seq: gap.to
            )
        }
    }
}
