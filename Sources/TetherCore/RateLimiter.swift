public import struct Foundation.Date
import Synchronization

/// A token bucket per key (a producer's remote address): `rate` tokens a second up to `burst`;
/// taking more than the bucket holds is refused with how long to wait.
///
/// Ownership: the buckets are behind one `Mutex`. Memory is bounded: past `maxKeys` buckets, the
/// full ones (idle producers) are dropped, which forgets nothing they were owed.
public final class RateLimiter: Sendable {
    public let rate: Double
    public let burst: Double
    let maxKeys: Int

    private struct Bucket {
        var tokens: Double
        var updated: Date
    }
    private let buckets = Mutex<[String: Bucket]>([:])

    /// `rate` of `0` (or less) turns the limiter off.
    public init(rate: Double, burst: Double, maxKeys: Int = 65_536) {
        self.rate = rate
        self.burst = max(burst, rate, 1)
        self.maxKeys = maxKeys
    }

    public var isEnabled: Bool { rate > 0 }

    /// Takes `count` tokens from `key`'s bucket. Returns `nil` when they were taken, else the
    /// seconds until they would be there (nothing is taken then).
    public func take(_ count: Int, key: String, now: Date = Date()) -> Double? {
        guard isEnabled else { return nil }
        let wanted = Double(count)
        return buckets.withLock { buckets -> Double? in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * rate)
            bucket.updated = now
            defer {
                buckets[key] = bucket
                if buckets.count > maxKeys { Self.prune(&buckets, burst: burst, rate: rate, now: now) }
            }
            if wanted <= bucket.tokens {
                bucket.tokens -= wanted
                return nil
            }
            // A request larger than the burst can never pass whole: say so by the time to a full bucket.
            return (min(wanted, burst) - bucket.tokens) / rate
        }
    }

    /// Refuses `count` events from `key` past the rate, with a ``RelayError/Code/rateLimited`` error
    /// whose message names the wait; returns the wait in whole seconds (for `Retry-After`).
    public func check(_ count: Int, key: String, now: Date = Date()) -> (error: RelayError, retryAfter: Int)? {
        guard let wait = take(count, key: key, now: now) else { return nil }
        let seconds = max(1, Int(wait.rounded(.up)))
        let error = RelayError(
            .rateLimited,
            "\(key) is publishing faster than \(Self.format(rate)) events/s (burst \(Self.format(burst))); retry after \(seconds) s"
        )
        return (error, seconds)
    }

    private static func prune(_ buckets: inout [String: Bucket], burst: Double, rate: Double, now: Date) {
        buckets = buckets.filter { $0.value.tokens + now.timeIntervalSince($0.value.updated) * rate < burst }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
