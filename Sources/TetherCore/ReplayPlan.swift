/// What a subscriber is owed when it (re)connects: where its cursor starts, and the gap or
/// reset it must be told about. Computing the plan is pure; the relay does it under the log's
/// lock so that no event can slip between the plan and the first live delivery.
///
/// Events with `seq > startAfter` are then delivered by one cursor, replayed and live alike, so
/// the seam between replay and live cannot duplicate or reorder anything.
public struct ReplayPlan: Sendable, Hashable {
    /// The cursor starts here: the subscriber is owed every retained event after it.
    public var startAfter: UInt64
    /// The log's head when the plan was made: events up to it are replay, later ones are live.
    public var head: UInt64
    /// Events the subscriber asked for but will not get, and why.
    public var gap: Gap?
    /// The subscriber's sequence numbers are from another log: it must drop what it holds.
    public var reset: Bool

    public init(startAfter: UInt64, head: UInt64, gap: Gap? = nil, reset: Bool = false) {
        self.startAfter = startAfter
        self.head = head
        self.gap = gap
        self.reset = reset
    }

    /// What a subscriber asked for in its hello.
    public enum Request: Sendable, Hashable {
        /// Only events published from now on.
        case live
        /// The newest `count` retained events, then live (the seed's `event_history`).
        case history(count: Int)
        /// Every event after `lastSequence`, of the log `epoch` when the client knows it.
        case resume(epoch: Epoch?, lastSequence: UInt64)
    }

    /// Plans a subscription against `log` with the per-client `lagCap`.
    ///
    /// - Throws: ``RelayError/futureSequence`` when a client of this very epoch claims a sequence
    ///   the log never assigned (a client without an epoch is reset instead: its log is gone).
    public static func make(for request: Request, log: LogState, lagCap: Int) throws(RelayError) -> ReplayPlan {
        let retainedFloor = log.oldest &- 1  // the newest sequence that is *not* retained
        let lagFloor = log.head > UInt64(lagCap) ? log.head - UInt64(lagCap) : 0
        switch request {
        case .live:
            return ReplayPlan(startAfter: log.head, head: log.head)
        case .history(let count):
            let wanted = log.head > UInt64(count) ? log.head - UInt64(count) : 0
            return ReplayPlan(startAfter: max(wanted, retainedFloor, lagFloor), head: log.head)
        case .resume(let epoch, let last):
            let otherLog = epoch.map { $0 != log.epoch } ?? (last > log.head)
            if otherLog {
                // Start over from the retained log, bounded by the lag cap like anyone else.
                var plan = ReplayPlan(startAfter: max(retainedFloor, lagFloor), head: log.head, reset: true)
                if lagFloor > retainedFloor {
                    plan.gap = Gap(from: retainedFloor + 1, to: lagFloor, reason: .lagCap)
                }
                return plan
            }
            guard last <= log.head else {
                throw RelayError.futureSequence(last, head: log.head)
            }
            var plan = ReplayPlan(startAfter: last, head: log.head)
            if lagFloor > last, lagFloor >= retainedFloor {
                plan.startAfter = lagFloor
                plan.gap = Gap(from: last + 1, to: lagFloor, reason: .lagCap)
            } else if retainedFloor > last {
                plan.startAfter = retainedFloor
                plan.gap = Gap(from: last + 1, to: retainedFloor, reason: log.trims.reason(for: retainedFloor) ?? .evicted)
            }
            return plan
        }
    }
}

/// A run of sequence numbers a subscriber was owed and will not receive. Said out loud, never
/// hidden: transports send it before the events that follow it.
public struct Gap: Sendable, Hashable, Codable {
    public var from: UInt64
    public var to: UInt64
    public var reason: GapReason

    public init(from: UInt64, to: UInt64, reason: GapReason) {
        self.from = from
        self.to = to
        self.reason = reason
    }

    /// How many sequence numbers the gap spans.
    public var count: UInt64 { to - from + 1 }
}
