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

        /// The keys under `transport.websocket`, with their meaning, for docs and `--help`.
        public static let keys: [(key: String, meaning: String)] = [
            ("ping-interval", "seconds between the relay's pings (default 10)"),
            ("hello-timeout", "seconds a new connection may take to send hello (default 10)"),
            ("max-frame-bytes", "largest inbound message in bytes (default: limits.max-event-bytes + 65536)"),
        ]

        /// Reads the keys above from `config` (already scoped to `transport.websocket`); the frame
        /// limit defaults to room for the largest event `limits` allow.
        public init(reading config: ConfigReader, limits: IngestLimits) throws(WebSocketConfigurationError) {
            maxFrameBytes = limits.maxEventBytes + 64 * 1024
            if let seconds = try Self.number(config, "ping-interval", range: 0.01...3600) {
                pingInterval = .milliseconds(Int64(seconds * 1000))
            }
            if let seconds = try Self.number(config, "hello-timeout", range: 0.01...3600) {
                helloTimeout = .milliseconds(Int64(seconds * 1000))
            }
            if let bytes = try Self.number(config, "max-frame-bytes", range: 256...Double(1 << 30)) {
                maxFrameBytes = Int(bytes)
            }
        }

        private static func number(_ config: ConfigReader, _ key: ConfigKey, range: ClosedRange<Double>) throws(WebSocketConfigurationError) -> Double? {
            let text: String? = config.string(forKey: key) ?? config.int(forKey: key).map(String.init) ?? config.double(forKey: key).map { "\($0)" }
            guard let text else { return nil }
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, range.contains(value) else {
                throw WebSocketConfigurationError("transport.websocket.\(key) \"\(text)\" is not a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
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
            do throws(RelayError) {
                try relay.configuration.access.check(context.request.bearerToken, for: .subscribe)
            } catch {
                relay.noteRefusal(error, client: context.requestContext.remoteHost)
                try? await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: RelayFrame.error(error)))))
                try? await outbound.close(WebSocketErrorCode(codeNumber: error.code == .unauthorized ? 4510 : 4511), reason: error.code.rawValue)
                return
            }
            // The slot is taken here, for the socket's life. Past a connection limit the client
            // gets an error frame (too_many_connections or server_busy) and close code 1013 (try
            // again later).
            let address = context.requestContext.remoteHost
            let ticket: ConnectionTicket
            do throws(RelayError) {
                ticket = try relay.connections.admit(address)
            } catch {
                relay.noteRefusal(error, client: address)
                try? await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: RelayFrame.error(error)))))
                try? await outbound.close(WebSocketErrorCode(codeNumber: 1013), reason: error.code.rawValue)
                return
            }
            defer { ticket.release() }
            let connection = WebSocketConnection(
                relay: relay, configuration: configuration, decoder: decoder, outbound: outbound,
                remote: context.requestContext.remoteDescription, token: context.request.bearerToken, logger: context.logger
            )
            await connection.run(inbound: inbound)
        }
    }

    /// The registry entry: `transports = [websocket]`.
    public static let plugin = PluginDescriptor<any Transport<TetherRouter>>(
        name: "websocket",
        summary: "native JSON protocol on GET /v1/ws (docs/PROTOCOL.md)"
    ) { context in
        WebSocketTransport(configuration: try Configuration(reading: context.config, limits: context.limits), limits: context.limits)
    }
}

/// A `transport.websocket.*` value was malformed or out of range; the message names the key.
public struct WebSocketConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
