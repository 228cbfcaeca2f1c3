import struct Foundation.Date
import Synchronization

/// One subscriber connection's handle on the relay: a cursor into the shared log, an in-flight
/// window, and the client record it keeps current.
///
/// A transport drives it from two places: its writer calls ``next(into:)`` (from one task at a
/// time) and sends what it returns; its reader reports acks, pings and other traffic. The cursor
/// is behind the session's own lock, so neither side blocks the other for long.
public final class Session: Sendable {
    public let id: UInt64
    public let welcome: Welcome
    public var clientID: String { welcome.clientID }
    let relay: Relay
    let topics: Set<String>?
    private let cursor: Mutex<Cursor>

    struct Cursor: ~Copyable {
        /// The newest sequence examined: every event up to it was delivered or filtered out.
        var position: UInt64
        /// The newest sequence delivered.
        var delivered: UInt64
        var acked: UInt64
        var window: InFlightWindow
        var ended: RelayError?
    }

    /// What ``next(into:)`` hands the transport besides events.
    public enum Interruption: Sendable, Hashable {
        /// The subscriber fell too far behind, or its events left the log: say so, then go on.
        case gap(Gap)
    }

    init(id: UInt64, relay: Relay, welcome: Welcome, topics: Set<String>?, window: Int) {
        self.id = id
        self.relay = relay
        self.welcome = welcome
        self.topics = topics
        let start = welcome.plan.startAfter
        self.cursor = Mutex(Cursor(position: start, delivered: start, acked: start, window: InFlightWindow(capacity: window)))
    }

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
            let (position, free, ended) = cursor.withLock { ($0.position, $0.window.freeSlots, $0.ended) }
            if let ended { throw ended }
            guard free > 0 else {
                await relay.waitForChange(session: id, after: nil)
                continue
            }
            let start = buffer.count
            // Scan more than the window holds when filtering by topic, so a rare topic is found
            // without a round trip per unrelated event.
            let scan = topics == nil ? free : max(free, 1024)
            switch relay.readLive(after: position, limit: scan, into: &buffer) {
            case .caughtUp:
                await relay.waitForChange(session: id, after: position)
            case .gap(let gap):
                skip(gap)
                return .gap(gap)
            case .events:
                if deliver(from: start, free: free, in: &buffer) { return nil }
            case .readStore:
                let events: [Event]
                do {
                    events = try await relay.store.read(after: position, limit: scan)
                } catch {
                    throw RelayError.storeUnavailable(error)
                }
                guard !events.isEmpty else {
                    // The log moved on under us (trimmed); the next read reports the gap.
                    await relay.waitForChange(session: id, after: position)
                    continue
                }
                buffer.append(contentsOf: events)
                if deliver(from: start, free: free, in: &buffer) { return nil }
            }
        }
    }

    /// Filters the freshly read `buffer[start...]` by topic, keeps at most `free`, and advances
    /// the cursor past everything examined. Returns whether anything is left to deliver.
    private func deliver(from start: Int, free: Int, in buffer: inout [Event]) -> Bool {
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
        let (lastDelivered, wasDelivered) = cursor.withLock { cursor in
            cursor.position = max(cursor.position, examinedThrough)
            for index in start..<kept { cursor.window.sent(buffer[index]) }
            let before = cursor.delivered
            if count > 0 { cursor.delivered = buffer[kept - 1].seq }
            return (cursor.delivered, before)
        }
        guard count > 0 else { return false }
        relay.counters.delivered.add(UInt64(count), ordering: .relaxed)
        if lastDelivered != wasDelivered {
            relay.updateRecord(of: self) { record in
                record.deliveredSeq = lastDelivered
                record.delivered += UInt64(count)
                return nil
            }
        }
        return true
    }

    private func skip(_ gap: Gap) {
        cursor.withLock { cursor in
            cursor.position = max(cursor.position, gap.to)
            // A declared gap counts as delivered: the subscriber may acknowledge its end, as it
            // may after a gap declared in the welcome (whose cursor starts at the gap's end).
            cursor.delivered = max(cursor.delivered, gap.to)
        }
        relay.counters.countDropped(gap)
        relay.updateRecord(of: self) { record in
            Transition(
                event: .slowConsumer, record: record, sessionID: id,
                message: "subscriber skipped seq \(gap.from)...\(gap.to) (\(gap.count) events), reason \(gap.reason.rawValue)",
                seq: gap.to
            )
        }
    }

    /// A cumulative acknowledgement: every delivered event up to `seq` was processed.
    ///
    /// - Throws: ``RelayError/Code/ackBeyondDelivered`` for a sequence this session never sent
    ///   (nothing changes then).
    public func ack(_ seq: UInt64) throws(RelayError) {
        let time = relay.now()
        let outcome = cursor.withLock { cursor -> (count: Int, wasFull: Bool, latency: Double)? in
            guard seq <= cursor.delivered else { return nil }
            let wasFull = cursor.window.isFull
            var latency = 0.0
            let count = cursor.window.acknowledge(through: seq) { entry in
                latency = max(latency, time.timeIntervalSince(entry.publishedAt))
            }
            cursor.acked = max(cursor.acked, seq)
            return (count, wasFull, latency)
        }
        guard let outcome else {
            let delivered = cursor.withLock { $0.delivered }
            throw RelayError(.ackBeyondDelivered, "ack \(seq) is beyond the newest event delivered on this connection (\(delivered))")
        }
        relay.counters.acked.add(UInt64(outcome.count), ordering: .relaxed)
        relay.updateRecord(of: self) { record in
            record.ackedSeq = max(record.ackedSeq, seq)
            record.acked += UInt64(outcome.count)
            record.lastAckAt = time
            return touched(&record, at: time)
        }
        if outcome.wasFull { relay.wake(session: id) }
    }

    /// Inbound traffic of any kind: keeps the connection from going stale.
    public func touch() {
        let time = relay.now()
        relay.updateRecord(of: self) { touched(&$0, at: time) }
    }

    /// A measured ping round trip, in seconds.
    public func recordPing(roundTrip seconds: Double) {
        let time = relay.now()
        relay.updateRecord(of: self) { record in
            record.rttSeconds = seconds
            return touched(&record, at: time)
        }
    }

    private func touched(_ record: inout ClientRecord, at time: Date) -> Transition? {
        record.lastActivity = time
        guard record.state == .stale else { return nil }
        record.state = .connected
        return Transition(event: .active, record: record, previous: .stale, sessionID: id, message: "stale client is active again")
    }

    /// The newest sequence delivered and acknowledged on this connection, and what is in flight.
    public var progress: (delivered: UInt64, acked: UInt64, inFlight: Int) {
        cursor.withLock { ($0.delivered, $0.acked, $0.window.count) }
    }

    /// Counts delivered events unacked past the ack timeout into the client's quality.
    func refreshOverdue(now time: Date) {
        let overdue = cursor.withLock { cursor -> Int in
            guard let oldest = cursor.window.oldest, time.timeIntervalSince(oldest.publishedAt) > relay.configuration.ackTimeout else { return 0 }
            return cursor.window.count
        }
        relay.updateRecord(of: self) { record in
            record.overdue = overdue
            return nil
        }
    }

    /// Closes the session from the transport's side (the connection ended).
    public func close(reason: String) {
        end(RelayError(.closed, "session closed: \(reason)"), detachReason: reason)
    }

    func end(_ error: RelayError, detachReason: String? = nil) {
        cursor.withLock { cursor in
            if cursor.ended == nil { cursor.ended = error }
            cursor.window.removeAll()
        }
        if let detachReason {
            relay.detach(self, reason: detachReason)  // also resumes a waiting writer
        } else {
            relay.wake(session: id)
        }
    }

    /// Why the session ended, if it did (a transport closes its connection with this).
    public var endReason: RelayError? { cursor.withLock { $0.ended } }
}
