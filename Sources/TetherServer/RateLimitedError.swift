import TetherCore

/// A publish refused by the rate limiter: the JSON error plus the `Retry-After` seconds that
/// ``JSONErrorMiddleware`` sends with it (HTTP 429).
struct RateLimitedError: Error, Sendable {
    var error: RelayError
    var retryAfter: Int
}
