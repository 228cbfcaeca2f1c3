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
/// Each connection is one ``WebSocketConnection`` driving one core `Session`. The transport holds
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

        public init() {}

        static let pingIntervalKey = ConfigKeySpec("ping-interval", .number(0.01...3600), default: "10", "seconds between the relay's pings (latency measurement)")
        static let helloTimeoutKey = ConfigKeySpec("hello-timeout", .number(0.01...3600), default: "10", "seconds a new connection may take to send hello before it is closed (4001)")
        static let maxFrameBytesKey = ConfigKeySpec(
            "max-frame-bytes", .integer(256...(1 << 30)), default: "limits.max-event-bytes + 65536", "largest inbound message in bytes; larger ones close with 1009"
        )

        /// The keys under `transport.websocket`.
        public static let keys = [pingIntervalKey, helloTimeoutKey, maxFrameBytesKey]

        /// Reads the keys above from the transport's slice; the frame limit defaults to room for
        /// the largest event `limits` allow.
        public init(reading settings: Settings, limits: IngestLimits) throws(ConfigurationError) {
            maxFrameBytes = limits.maxEventBytes + 64 * 1024
            if let seconds = try settings.number(Self.pingIntervalKey) { pingInterval = .milliseconds(Int64(seconds * 1000)) }
            if let seconds = try settings.number(Self.helloTimeoutKey) { helloTimeout = .milliseconds(Int64(seconds * 1000)) }
            if let bytes = try settings.integer(Self.maxFrameBytesKey) { maxFrameBytes = bytes }
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
        // The frame rules (RFC 6455 §5) go into the pipeline while the upgrade is decided, so
        // they see the first frame too; see FrameRulesInstaller.
        let shouldUpgrade: @Sendable (Request, TetherRequestContext) async throws -> RouterShouldUpgrade = { _, context in
            try await FrameRulesInstaller.add(to: context.channel, logger: context.logger)
            return .upgrade([:])
        }
        routes.ws(RouterPath(stringLiteral: configuration.path), shouldUpgrade: shouldUpgrade) { inbound, outbound, context in
            // Refusals happen after the upgrade, as an error frame and a close code, because
            // Hummingbird answers any upgrade refused in `shouldUpgrade` with an empty 400 that
            // would not say why. A missing or wrong token (header, or ?token= for browsers) is
            // final: close 4510/4511 (do-not-reconnect range), not retried with the same token.
            // Past a connection limit the client gets an error frame (too_many_connections or
            // server_busy) and close code 1013 (try again later). The slot is for the socket's life.
            let ticket: ConnectionTicket
            do throws(RelayError) {
                ticket = try relay.gate.admitSubscriber(token: context.request.bearerToken, address: context.requestContext.remoteHost)
            } catch {
                let close = switch error.code {
                case .unauthorized: 4510
                case .forbidden: 4511
                default: 1013
                }
                try? await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: RelayFrame.error(error)))))
                try? await outbound.close(WebSocketErrorCode(codeNumber: close), reason: error.code.rawValue)
                return
            }
            defer { ticket.release() }
            let connection = WebSocketConnection(
                relay: relay, configuration: configuration, decoder: decoder, outbound: outbound,
                remote: context.requestContext.remoteDescription, address: context.requestContext.remoteHost, token: context.request.bearerToken, logger: context.logger
            )
            await connection.run(inbound: inbound)
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
