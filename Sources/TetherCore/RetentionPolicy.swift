/// How long and how much of the log is kept. An event leaves the log when it is older than
/// `ttl`, or when keeping it would put the log over `maxEvents` or `maxBytes` (oldest first).
public struct RetentionPolicy: Sendable, Hashable {
    /// Seconds an event is retained after it was published. The seed's 5 minutes by default.
    public var ttl: Double
    /// The most events the log holds.
    public var maxEvents: Int
    /// The most bytes (``Event/retainedBytes``) the log holds.
    public var maxBytes: Int

    public init(ttl: Double = 300, maxEvents: Int = 100_000, maxBytes: Int = 256 << 20) {
        self.ttl = ttl
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }
}
