public import TetherCore
public import TetherRouting
import Configuration
public import Logging

/// Socket.IO at `/socket.io/`: Engine.IO v4 (long-polling, WebSocket, upgrade, heartbeat,
/// `maxPayload`) and Socket.IO v5 (namespaces, events, acks, CONNECT_ERROR), so that the seed's
/// dashboards and stock socket.io clients connect unchanged. The seed's protocol has no binary
/// attachments; a binary packet is refused and closes its session.
///
/// Layers: ``EngineServer`` (sessions by `sid`) carries ``SocketIOServer`` (namespaces and
/// packets), whose `/` namespace is ``TetherNamespace`` (auth → ``Hello``, session → events).
/// Also `POST /api/events` for the seed's producers. The mapping is in `docs/SOCKETIO.md`.
public struct SocketIOTransport: Transport {
    public typealias Routes = TetherRouter

    /// Settings under `transport.socketio.*`.
    public struct Configuration: Sendable, Hashable {
        public var engine = EngineConfiguration()
        /// Milliseconds a session may stay without joining a namespace (at most
        /// `limits.pending-timeout`, whichever is shorter).
        public var connectTimeout = 45_000
        /// Newest events sent as `event_history` to a client that is not resuming.
        public var history = 50
        /// Stock connection-state recovery: a `pid` in the CONNECT reply and each event's offset
        /// as its last argument.
        public var recovery = true
        /// Also serve `POST /api/events` for the seed's producers.
        public var seedPublish = true

        public init() {}
    }

    public let configuration: Configuration
    /// The relay's ingest limits, which `POST /api/events` enforces like `/v1/events`.
    public let limits: IngestLimits
    let logger: Logger

    public init(configuration: Configuration = Configuration(), limits: IngestLimits = IngestLimits(), logger: Logger = Logger(label: "tether.socketio")) {
        self.configuration = configuration
        self.limits = limits
        self.logger = logger
    }

    public func register(on routes: Routes, relay: Relay) {
        let io = SocketIOServer(
            namespaces: ["/": TetherNamespace(relay: relay, configuration: configuration, logger: logger)],
            // A session that never CONNECTs is closed promptly, token or not.
            connectTimeout: min(configuration.connectTimeout, Int(relay.configuration.admission.pendingTimeout * 1000)),
            maxAttachments: 0,
            logger: logger
        )
        let pendingTimeout = Duration.milliseconds(Int64(relay.configuration.admission.pendingTimeout * 1000))
        EngineServer(path: "/socket.io", configuration: configuration.engine, logger: logger, admission: HandshakeAdmission.engineAdmission(relay)) { socket in
            // A session still waiting to authenticate (its pending slot) is closed at the pending
            // timeout, which frees the slot; TetherNamespace promotes it at a CONNECT with a token.
            let deadline: Task<Void, Never>? = socket.ticket?.isPending == true ? Task {
                guard (try? await Task.sleep(for: pendingTimeout)) != nil else { return }
                if socket.ticket?.isPending == true { socket.close(.serverClosed) }
            } : nil
            defer { deadline?.cancel() }
            await io.run(socket)
        }.register(on: routes)
        if configuration.seedPublish {
            SeedPublishRoute(relay: relay, decoder: PublishRequestDecoder(limits: limits)).register(on: routes)
        }
    }

    public static let plugin = PluginDescriptor<any Transport<Routes>>(
        name: "socketio",
        summary: "Socket.IO (Engine.IO v4, Socket.IO v5) at /socket.io/ with the seed's events and replay; POST /api/events"
    ) { context in
        var configuration = Configuration()
        let config = context.config
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = config.string(forKey: ConfigKey(key)) ?? config.int(forKey: ConfigKey(key)).map(String.init) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw SocketIOConfigurationError("transport.socketio.\(key) \"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        func flag(_ key: String) throws -> Bool? {
            guard let text = config.string(forKey: ConfigKey(key)) ?? config.bool(forKey: ConfigKey(key)).map(String.init) else { return nil }
            switch text.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw SocketIOConfigurationError("transport.socketio.\(key) \"\(text)\" is not true or false")
            }
        }
        if let value = try integer("ping-interval-ms", 50...3_600_000) { configuration.engine.pingInterval = value }
        if let value = try integer("ping-timeout-ms", 50...3_600_000) { configuration.engine.pingTimeout = value }
        if let value = try integer("max-payload", 1024...(64 << 20)) { configuration.engine.maxPayload = value }
        if let value = try integer("connect-timeout-ms", 100...3_600_000) { configuration.connectTimeout = value }
        if let value = try integer("history", 0...100_000) { configuration.history = value }
        if let value = try flag("recovery") { configuration.recovery = value }
        if let value = try flag("seed-publish") { configuration.seedPublish = value }
        return SocketIOTransport(configuration: configuration, limits: context.limits, logger: context.logger)
    }
}

/// A `transport.socketio.*` value is out of range; the message names the key and what is valid.
public struct SocketIOConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
