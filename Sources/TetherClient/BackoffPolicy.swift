/// When a client retries after a lost connection: exponential backoff with jitter.
///
/// Attempt `n` (from 1) waits `min(maxDelay, initialDelay × multiplier^(n−1))`, shortened by up
/// to `jitter` of itself at random so that clients cut off together do not return together.
/// After `maxAttempts` failed attempts in a row the client gives up (`failed`). A connection that
/// reaches `welcome` resets the count.
public struct BackoffPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var multiplier: Double
    public var maxDelay: Duration
    public var maxAttempts: Int
    /// The fraction of each delay that is random, in [0, 1]: 0.5 waits between half and all of it.
    public var jitter: Double

    public init(
        initialDelay: Duration = .seconds(1), multiplier: Double = 2, maxDelay: Duration = .seconds(30),
        maxAttempts: Int = 10, jitter: Double = 0.5
    ) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
        self.jitter = min(1, max(0, jitter))
    }

    /// The delay before attempt `attempt` (1-based), given `random` in [0, 1).
    public func delay(attempt: Int, random: Double) -> Duration {
        let base = min(Self.seconds(maxDelay), Self.seconds(initialDelay) * pow(multiplier, Double(max(0, attempt - 1))))
        let jittered = base * (1 - jitter * min(1, max(0, random)))
        return .nanoseconds(Int64((jittered * 1e9).rounded()))
    }

    /// The delays before each attempt with no jitter applied (the policy's upper bounds).
    public var schedule: [Duration] {
        (1...max(1, maxAttempts)).map { delay(attempt: $0, random: 0) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 {
            result *= base
            remaining -= 1
            if result > 1e12 { break }  // already past any sane cap
        }
        return result
    }
}
