/// Why a gap in the log exists: the reason each range of trimmed sequence numbers left it.
///
/// A store records each trim here (merged with the previous one when the reason is the same), so
/// a client that resumes from before the oldest retained event is told *why* it missed events.
/// Only the newest ``capacity`` ranges are kept; older ranges report the oldest known reason.
public struct TrimHistory: Sendable, Hashable, Codable {
    public struct Range: Sendable, Hashable, Codable {
        /// The last sequence number this range removed (ranges are contiguous and ascending).
        public var through: UInt64
        public var reason: GapReason
    }

    public private(set) var ranges: [Range] = []
    public static let capacity = 64

    public init(ranges: [Range] = []) {
        self.ranges = ranges
    }

    /// Records that every sequence number up to `through` has now left the log for `reason`.
    public mutating func record(through: UInt64, reason: GapReason) {
        if let last = ranges.last {
            guard through > last.through else { return }
            if last.reason == reason {
                ranges[ranges.count - 1].through = through
                return
            }
        }
        ranges.append(Range(through: through, reason: reason))
        if ranges.count > Self.capacity { ranges.removeFirst(ranges.count - Self.capacity) }
    }

    /// The reason `seq` left the log, or `nil` if no trim covers it.
    public func reason(for seq: UInt64) -> GapReason? {
        guard let last = ranges.last, seq <= last.through else { return nil }
        return ranges.first { seq <= $0.through }?.reason ?? ranges.first?.reason
    }
}

/// Why events a client is owed were not delivered.
public enum GapReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// They outlived the retention TTL.
    case ttl
    /// The client was further behind than the per-client lag cap allows.
    case lagCap = "lag_cap"
    /// The log's count or byte cap pushed them out.
    case evicted
}
