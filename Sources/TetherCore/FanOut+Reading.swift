/// What the fan-out offers a cursor at a position right now.
enum LiveRead {
    /// `count` events were appended to the caller's buffer.
    case events(count: Int)
    /// The cursor is behind the in-memory window: read the store.
    case readStore
    /// The cursor is too far behind (or its events are gone): skip, and tell the client.
    case gap(Gap)
    /// Nothing new after the cursor.
    case caughtUp
}

extension FanOut {
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
        view.withLock { view in
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

    /// Reads the store after `position` and proves continuity: the first event read must be
    /// `position + 1` and each next one follows the last. The log may have been trimmed between
    /// ``readLive(after:limit:into:owedThrough:keepingUp:headSeen:)`` and this read (a count cap
    /// evicting under a fast producer, a TTL sweep); what is missing is then a declared gap, never
    /// a silent skip. Appends only a contiguous run to `buffer`.
    ///
    /// - Throws: ``RelayError/Code/storeUnavailable`` when the store does not answer.
    func readStore(after position: UInt64, limit: Int, into buffer: inout [Event]) async throws(RelayError) -> LiveRead {
        let events: [Event]
        do {
            events = try await store.read(after: position, limit: limit, maxBytes: configuration.readPageBytes)
        } catch {
            throw RelayError.storeUnavailable(error)
        }
        guard let first = events.first else {
            // Nothing retained after `position`: either nothing newer exists yet, or all of it
            // was trimmed. Only the store knows which; the view may lag behind it.
            let log: LogState
            do { log = try await store.state() } catch { throw RelayError.storeUnavailable(error) }
            guard log.head > position else { return .caughtUp }
            guard log.oldest > position + 1 else { return .readStore }  // appended meanwhile: read again
            return .gap(trimGap(from: position + 1, to: log.oldest - 1, trims: log.trims))
        }
        guard first.seq == position + 1 else {
            return .gap(trimGap(from: position + 1, to: first.seq - 1, trims: nil))
        }
        var count = 1
        while count < events.count, events[count].seq == events[count - 1].seq + 1 { count += 1 }
        buffer.append(contentsOf: events.prefix(count))
        return .events(count: count)
    }

    /// Up to `limit` retained events after `seq`, for pollers and debugging: from memory when the
    /// window covers them, else from the store, a page ending early at
    /// ``RelayConfiguration/readPageBytes`` (callers continue after its last).
    func events(after seq: UInt64, limit: Int) async throws(RelayError) -> (log: LogState, events: [Event]) {
        var buffer: [Event] = []
        let (state, covered) = view.withLock { view in
            (view.state, view.recent.covers(after: seq) ? view.recent.read(after: seq, limit: limit, maxBytes: configuration.readPageBytes, into: &buffer) : -1)
        }
        if covered >= 0 || seq >= state.head { return (state, buffer) }
        do {
            return (state, try await store.read(after: seq, limit: limit, maxBytes: configuration.readPageBytes))
        } catch {
            throw .storeUnavailable(error)
        }
    }

    /// The gap for events a store read found trimmed, with the reason its trim history (or the
    /// view's) records; `evicted` when neither knows yet.
    func trimGap(from: UInt64, to: UInt64, trims: TrimHistory?) -> Gap {
        let reason = trims?.reason(for: to) ?? state.trims.reason(for: to) ?? .evicted
        return Gap(from: from, to: to, reason: reason)
    }
}
