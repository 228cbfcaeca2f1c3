import struct Foundation.Date
import Synchronization

/// One subscriber connection's handle on the relay: a cursor into the shared log, an in-flight
/// window, and the client record it keeps current.
///
/// A transport drives it from two places: its writer takes events with ``next(into:)`` (from one
/// task at a time) or ``poll(into:onChange:)`` (from the connection's event loop) and sends them;
/// its reader reports acks, pings and other traffic. The cursor
/// is behind the session's own lock, so neither side blocks the other for long.
///
/// The hot path (deliver, ack, touch) touches only this session's lock: progress is folded into
/// the shared client record lazily, when the relay sweeps, reports stats or detaches the session
/// (``drainProgress(into:now:ackTimeout:)``, called under the client table's lock; the cursor
/// lock is never held while taking the client table's).
///
/// Ownership and calls: the cursor is this session's own (its `Mutex`; the claim generation and
/// the stale flag are atomics). A session calls out to two things only, never to the ``Relay``:
/// the ``FanOut`` (reads and waits) and its ``ClientTable`` (its own record, its detach). The
/// relay creates it; the client table holds it while it is attached and calls back only
/// ``drainProgress(into:now:ackTimeout:)`` and ``markStale()``; the relay ends a superseded one.
public final class Session: Sendable {
    public let id: UInt64
    public let welcome: Welcome
    public var clientID: String { welcome.clientID }
    /// Where this session's events come from, replay and live alike; it never reads the store.
    let fanOut: FanOut
    /// The table holding this session's client record.
    let clients: ClientTable
    let counters: RelayCounters
    let histograms: RelayHistograms
    let now: @Sendable () -> Date
    let topics: Set<String>?
    let cursor: Mutex<Cursor>

    struct Cursor: ~Copyable {
        /// The newest sequence examined: every event up to it was delivered or filtered out.
        var position: UInt64
        /// The newest sequence delivered.
        var delivered: UInt64
        /// The newest sequence the client confirmed (its resume position).
        var acked: UInt64
        /// The newest sequence acknowledged by a write only (`ack(_:confirmed: false)`).
        var written: UInt64 = 0
        var window: InFlightWindow
        var ended: RelayError?
        /// Progress not yet folded into the client record.
        var deliveredSinceSync: UInt64 = 0
        var ackedSinceSync: UInt64 = 0
        var lastActivity: Date
        var lastAckAt: Date?
        /// The lag cap does not apply below this sequence: events that reached this relay's view
        /// at once by a catch-up from a shared store (after the relay itself stalled) while the
        /// subscriber was keeping up are owed in full, read from the store if need be.
        var owedThrough: UInt64
        /// Whether the subscriber's last read found nothing new or took everything up to the
        /// head: it is keeping up, and what arrives next is not its own lag.
        var keepingUp = false
    }

    /// The generation of this connection's claim on its client id across relays (0 until the
    /// shared store answered, or when the store is not shared).
    private let claimGeneration = Atomic<UInt64>(0)
    var generation: UInt64 {
        get { claimGeneration.load(ordering: .acquiring) }
        set { claimGeneration.store(newValue, ordering: .releasing) }
    }

    /// Set by the sweep when the client went stale, so the next traffic makes it active again
    /// without the hot path taking the client lock otherwise.
    private let isStale = Atomic<Bool>(false)

    /// What ``next(into:)`` hands the transport besides events.
    public enum Interruption: Sendable, Hashable {
        /// The subscriber fell too far behind, or its events left the log: say so, then go on.
        case gap(Gap)
    }

    init(
        id: UInt64, welcome: Welcome, topics: Set<String>?, window: Int,
        fanOut: FanOut, clients: ClientTable, counters: RelayCounters, histograms: RelayHistograms, now: @escaping @Sendable () -> Date
    ) {
        self.id = id
        self.fanOut = fanOut
        self.clients = clients
        self.counters = counters
        self.histograms = histograms
        self.now = now
        self.welcome = welcome
        self.topics = topics
        let start = welcome.plan.startAfter
        self.cursor = Mutex(
            Cursor(
                position: start, delivered: start, acked: start, window: InFlightWindow(capacity: window), lastActivity: now(),
                owedThrough: welcome.plan.head
            )
        )
    }

    /// A cumulative acknowledgement: every delivered event up to `seq` was processed.
    ///
    /// - Parameter confirmed: `false` when the transport only knows the events were written to
    ///   the socket (SSE has no way back): the window moves on, so delivery flows, but the
    ///   client's resume position does not, because events written to a connection that then
    ///   died may never have arrived. A client that resumes without naming its position then
    ///   gets them again (at least once, dedup by seq) instead of silently missing them.
    /// - Throws: ``RelayError/Code/ackBeyondDelivered`` for a sequence this session never sent
    ///   (nothing changes then).
    public func ack(_ seq: UInt64, confirmed: Bool = true) throws(RelayError) {
        let time = now()
        var outcome: (count: Int, wasFull: Bool)?
        histograms.deliveryLatency.observeBatch { latency in
            outcome = cursor.withLock { cursor -> (count: Int, wasFull: Bool)? in
                guard seq <= cursor.delivered else { return nil }
                let wasFull = cursor.window.isFull
                let count = cursor.window.acknowledge(through: seq) { entry in
                    latency.observe(time.timeIntervalSince(entry.publishedAt))
                }
                if confirmed {
                    cursor.acked = max(cursor.acked, seq)
                } else {
                    cursor.written = max(cursor.written, seq)
                }
                cursor.ackedSinceSync += UInt64(count)
                cursor.lastActivity = time
                cursor.lastAckAt = time
                return (count, wasFull)
            }
        }
        guard let outcome else {
            let delivered = cursor.withLock { $0.delivered }
            throw RelayError(.ackBeyondDelivered, "ack \(seq) is beyond the newest event delivered on this connection (\(delivered))")
        }
        counters.acked.add(UInt64(outcome.count), ordering: .relaxed)
        if isStale.load(ordering: .relaxed) { becameActive(at: time) }
        if outcome.wasFull { fanOut.wake(session: id) }
    }

    /// Inbound traffic of any kind: keeps the connection from going stale.
    public func touch() {
        let time = now()
        cursor.withLock { $0.lastActivity = max($0.lastActivity, time) }
        if isStale.load(ordering: .relaxed) { becameActive(at: time) }
    }

    private func becameActive(at time: Date) {
        isStale.store(false, ordering: .relaxed)
        clients.updateRecord(of: self) { touched(&$0, at: time) }
    }

    /// A measured ping round trip, in seconds.
    public func recordPing(roundTrip seconds: Double) {
        let time = now()
        histograms.pingRTT.observe(seconds)
        cursor.withLock { $0.lastActivity = max($0.lastActivity, time) }
        isStale.store(false, ordering: .relaxed)
        clients.updateRecord(of: self) { record in
            record.rttSeconds = seconds
            return touched(&record, at: time)
        }
    }

    private func touched(_ record: inout ClientRecord, at time: Date) -> Transition? {
        record.lastActivity = max(record.lastActivity, time)
        guard record.state == .stale else { return nil }
        record.state = .connected
        return Transition(event: .active, record: record, previous: .stale, sessionID: id, message: "stale client is active again")
    }

    /// Where the cursor stands: the newest sequence examined (delivered, filtered out or skipped
    /// in a gap), delivered and acknowledged on this connection, and how many are in flight.
    public var progress: (position: UInt64, delivered: UInt64, acked: UInt64, inFlight: Int) {
        cursor.withLock { ($0.position, $0.delivered, $0.acked, $0.window.count) }
    }

    /// Folds the progress since the last call into `record` (the client table calls this under
    /// its lock): cursors, counters, last activity, and delivered events unacked past
    /// `ackTimeout` seconds, which count against quality.
    func drainProgress(into record: inout ClientRecord, now time: Date, ackTimeout: Double) {
        cursor.withLock { cursor in
            record.deliveredSeq = max(record.deliveredSeq, cursor.delivered)
            record.ackedSeq = max(record.ackedSeq, cursor.acked)
            record.writtenSeq = max(record.writtenSeq, cursor.written)
            record.delivered += cursor.deliveredSinceSync
            record.acked += cursor.ackedSinceSync
            cursor.deliveredSinceSync = 0
            cursor.ackedSinceSync = 0
            record.lastActivity = max(record.lastActivity, cursor.lastActivity)
            if let ackAt = cursor.lastAckAt { record.lastAckAt = ackAt }
            if let oldest = cursor.window.oldest, time.timeIntervalSince(oldest.publishedAt) > ackTimeout {
                record.overdue = cursor.window.count
            } else {
                record.overdue = 0
            }
        }
    }

    /// Marks the session's client stale (the client table's sweep does, under its lock).
    func markStale() {
        isStale.store(true, ordering: .relaxed)
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
            clients.detach(self, reason: detachReason)
            fanOut.forgetWaits(session: id)  // also resumes a waiting writer
        } else {
            fanOut.wake(session: id)
        }
    }

    /// Why the session ended, if it did (a transport closes its connection with this).
    public var endReason: RelayError? { cursor.withLock { $0.ended } }
}
