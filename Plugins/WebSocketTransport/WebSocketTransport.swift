public import Hummingbird
import HummingbirdWebSocket
public import TetherCore
public import TetherRouting
public import Configuration
import Logging
import NIOCore
import NIOWebSocket

/// The native WebSocket transport: JSON text frames on `GET /v1/ws`, as `docs/PROTOCOL.md`
/// specifies them (hello → welcome → replay → live events, cumulative acks, pings both ways,
/// publish, stats, error frames and a table of close codes).
///
/// Each connection is one ``WebSocketConnectionHandler`` on its channel's event loop, driving
/// one core `Session`. The transport holds
/// no state across connections: the relay's client table is the only memory of a client.
public struct WebSocketTransport: Transport {
    public typealias Routes = TetherRouter

    /// Tunables, read from `transport.websocket.*` (environment: `TETHER_TRANSPORT_WEBSOCKET_*`).
    public struct Configuration: Sendable, Hashable {
        /// The endpoint's path.
        public var path = "/v1/ws"
        /// How often the relay sends `{"type":"ping"}` to measure round-trip latency.
        public var pingInterval: Duration = .seconds(10)
        /// How long a new connection may take to send its hello before it is closed (4001).
        public var helloTimeout: Duration = .seconds(10)
        /// The largest inbound message, in bytes (fragments included); larger ones close with 1009.
        public var maxFrameBytes = IngestLimits().maxEventBytes + 64 * 1024
        /// How long a subscriber's events may wait to share a write with the next ones when the
        /// relay wrote to it less than this long ago. Zero (the default) writes every wake at
        /// once; a few milliseconds trade that much latency for fewer system calls per event at
        /// high paced rates (BENCHMARKS.md).
        public var writeDelay: Duration = .zero

        public init() {}

        static let pingIntervalKey = ConfigKeySpec("ping-interval", .number(0.01...3600), default: "10", "seconds between the relay's pings (latency measurement)")
        static let helloTimeoutKey = ConfigKeySpec("hello-timeout", .number(0.01...3600), default: "10", "seconds a new connection may take to send hello before it is closed (4001)")
        static let maxFrameBytesKey = ConfigKeySpec(
            "max-frame-bytes", .integer(256...(1 << 30)), default: "limits.max-event-bytes + 65536", "largest inbound message in bytes; larger ones close with 1009"
        )

        static let writeDelayKey = ConfigKeySpec(
            "write-delay", .number(0...1), default: "0", "seconds a subscriber's events may wait to share one write when it was written to less than this long ago (0: write at once)"
        )

        /// The keys under `transport.websocket`.
        public static let keys = [pingIntervalKey, helloTimeoutKey, maxFrameBytesKey, writeDelayKey]

        /// Reads the keys above from the transport's slice; the frame limit defaults to room for
        /// the largest event `limits` allow.
        public init(reading settings: Settings, limits: IngestLimits) throws(ConfigurationError) {
            maxFrameBytes = limits.maxEventBytes + 64 * 1024
            if let seconds = try settings.number(Self.pingIntervalKey) { pingInterval = .milliseconds(Int64(seconds * 1000)) }
            if let seconds = try settings.number(Self.helloTimeoutKey) { helloTimeout = .milliseconds(Int64(seconds * 1000)) }
            if let bytes = try settings.integer(Self.maxFrameBytesKey) { maxFrameBytes = bytes }
            if let seconds = try settings.number(Self.writeDelayKey) { writeDelay = .microseconds(Int64(seconds * 1_000_000)) }
        }
    }

    public var configuration: Configuration
    /// Limits on events published over the socket (the relay's `limits.*`).
    public var limits: IngestLimits

    public init(configuration: Configuration = Configuration(), limits: IngestLimits = IngestLimits()) {
        self.configuration = configuration
        self.limits = limits
    }

    public func register(on routes: Routes, relay: Relay) {
        let configuration = self.configuration
        let decoder = PublishRequestDecoder(limits: limits)
        // The connection is a WebSocketConnectionHandler on the channel's event loop, put into the
        // pipeline (with the frame rules, RFC 6455 §5) while the upgrade is decided, so it sees
        // the first frame too; see FrameRulesInstaller. Admission (token, connection limits) is
        // its first step, after the upgrade, so that a refusal can say why.
        let shouldUpgrade: @Sendable (Request, TetherRequestContext) async throws -> RouterShouldUpgrade = { request, context in
            let peer = WebSocketConnectionHandler.Peer(remote: context.remoteDescription, address: context.remoteHost, token: request.bearerToken)
            let logger = context.logger
            try await FrameRulesInstaller.add(to: context.channel, logger: logger) {
                WebSocketConnectionHandler(relay: relay, configuration: configuration, decoder: decoder, peer: peer, logger: logger)
            }
            return .upgrade([:])
        }
        routes.ws(RouterPath(stringLiteral: configuration.path), shouldUpgrade: shouldUpgrade) { inbound, _, _ in
            // The connection's handler takes every frame and claims the connection, so the
            // server's task ends at the upgrade and this never runs (TakeoverChannel). Behind a
            // server that offers no takeover, WSCore runs it: nothing reaches its inbound stream,
            // which ends when the handler closes the connection.
            for try await _ in inbound {}
        }
    }

    /// The registry entry: `transports = [websocket]`.
    public static let plugin = PluginDescriptor<any Transport<TetherRouter>>(
        name: "websocket",
        summary: "native JSON protocol on GET /v1/ws (docs/PROTOCOL.md)",
        keys: Configuration.keys
    ) { context in
        WebSocketTransport(configuration: try Configuration(reading: context.settings, limits: context.limits), limits: context.limits)
    }
}
