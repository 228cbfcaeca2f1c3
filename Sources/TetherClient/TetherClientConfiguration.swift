public import NIOSSL
import TetherCore

/// How a ``TetherClient`` connects, resumes, retries and keeps time. Every field has a default.
public struct TetherClientConfiguration: Sendable {
    /// The relay's WebSocket endpoint, e.g. `ws://127.0.0.1:8765/v1/ws` or `wss://…`.
    public var url: String
    /// How a `wss://` relay is verified (`nil`: the system's trust roots). For a relay with a
    /// private CA: `.makeClientConfiguration()` with `trustRoots = .file(path)`.
    public var tls: TLSConfiguration?
    /// The client id to use when there is no saved state (`nil`: the relay assigns one).
    public var clientID: String?
    /// Where to keep ``ResumeState`` across restarts (`nil`: memory only).
    public var stateFile: String?
    /// Topics to receive; empty for all.
    public var topics: [String] = []
    /// Newest retained events to receive first on a fresh start.
    public var history: Int?
    /// Connect as a one-shot client (`"ephemeral": true` in the hello): the relay keeps no record
    /// of it and does not count it as a connection. For commands that publish or ask once; such
    /// a client is given a new id on each connection and cannot resume.
    public var ephemeral = false
    public var backoff = BackoffPolicy()
    /// How often the client pings the relay to measure latency.
    public var heartbeatInterval: Duration = .seconds(10)
    /// Silence from the relay after which the connection is treated as dead and replaced.
    public var staleTimeout: Duration = .seconds(35)
    /// Unconfirmed publishes kept while offline (and in flight); more are refused.
    public var outboundBufferLimit = 100
    /// Acknowledge each event as soon as it is handed to ``TetherClient/events``, instead of
    /// waiting for ``TetherClient/ack(_:)``.
    public var autoAck = false
    /// Acks are coalesced: one is sent when this many events are processed or after `ackDelay`.
    public var ackBatch = 32
    public var ackDelay: Duration = .milliseconds(20)
    /// The largest frame accepted from the relay.
    public var maxFrameBytes = 16 << 20
    /// Waits between attempts; tests inject one that records instead of sleeping.
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// Random numbers in [0, 1) for backoff jitter; tests inject a fixed one.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }

    public init(url: String) {
        self.url = url
    }
}
