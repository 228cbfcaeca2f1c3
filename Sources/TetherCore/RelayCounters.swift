public import Synchronization

/// The relay's monotonic counters. Atomics, added to once per batch, so that counting costs the
/// publish and fan-out paths no lock and no allocation.
public final class RelayCounters: Sendable {
    public let published = Atomic<UInt64>(0)
    public let duplicatesSuppressed = Atomic<UInt64>(0)
    public let delivered = Atomic<UInt64>(0)
    public let acked = Atomic<UInt64>(0)
    public let replayed = Atomic<UInt64>(0)
    public let reconnects = Atomic<UInt64>(0)
    public let resumeRefused = Atomic<UInt64>(0)
    /// Disconnected client records evicted early to keep ``AdmissionLimits/maxClientRecords``.
    public let clientRecordsEvicted = Atomic<UInt64>(0)
    /// WATCHDOG=1 notifications sent to systemd (each one after a liveness probe answered in time).
    public let watchdogPings = Atomic<UInt64>(0)
    /// Events removed from the log by TTL, and by the count/byte caps.
    public let expired = Atomic<UInt64>(0)
    public let evicted = Atomic<UInt64>(0)
    /// Sequence numbers subscribers were owed but skipped, by reason (gaps they were told of).
    public let droppedTTL = Atomic<UInt64>(0)
    public let droppedLagCap = Atomic<UInt64>(0)
    public let droppedEvicted = Atomic<UInt64>(0)

    /// Inbound frames or requests a transport refused (bad input), by error code. Rare, so a lock
    /// is fine here.
    private let refusedByCode = Mutex<[String: UInt64]>([:])

    public init() {}

    /// Counts one refused frame or request under its error code (`malformed`, `unknown_type`, ...).
    public func countRefused(_ code: RelayError.Code) {
        refusedByCode.withLock { $0[code.rawValue, default: 0] += 1 }
    }

    /// Refused frames and requests so far, by error code.
    public var refused: [String: UInt64] { refusedByCode.withLock { $0 } }

    func countDropped(_ gap: Gap) {
        switch gap.reason {
        case .ttl: droppedTTL.add(gap.count, ordering: .relaxed)
        case .lagCap: droppedLagCap.add(gap.count, ordering: .relaxed)
        case .evicted: droppedEvicted.add(gap.count, ordering: .relaxed)
        }
    }

    public func dropped(_ reason: GapReason) -> UInt64 {
        switch reason {
        case .ttl: droppedTTL.load(ordering: .relaxed)
        case .lagCap: droppedLagCap.load(ordering: .relaxed)
        case .evicted: droppedEvicted.load(ordering: .relaxed)
        }
    }
}
