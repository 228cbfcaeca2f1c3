public import struct Foundation.Date
import Synchronization

/// Logs a refusal once per client and reason per minute, not once per event, so a flooding or
/// misconfigured client cannot flood the journal. Every refusal is still counted.
///
/// Ownership: the last-logged times are behind one `Mutex`; bounded by pruning entries older than
/// the interval once there are more than `maxEntries`.
public final class RefusalLog: Sendable {
    public let interval: Double
    let maxEntries: Int
    private let lastLogged = Mutex<[String: Date]>([:])

    public init(interval: Double = 60, maxEntries: Int = 10_000) {
        self.interval = interval
        self.maxEntries = maxEntries
    }

    /// Whether a refusal of `client` for `reason` should be logged now (and records that it was).
    public func shouldLog(client: String, reason: String, now: Date = Date()) -> Bool {
        let key = reason + " " + client
        return lastLogged.withLock { seen in
            if let last = seen[key], now.timeIntervalSince(last) < interval { return false }
            seen[key] = now
            if seen.count > maxEntries {
                seen = seen.filter { now.timeIntervalSince($0.value) < interval }
            }
            return true
        }
    }
}
