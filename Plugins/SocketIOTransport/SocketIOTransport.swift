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
        summary: "Socket.IO (Engine.IO v4, Socket.IO v5) at /socket.io/ with the seed's events and replay; POST /api/events",
        keys: keys
    ) { context in
        var configuration = Configuration()
        let settings = context.settings
        if let value = try settings.integer(pingIntervalKey) { configuration.engine.pingInterval = value }
        if let value = try settings.integer(pingTimeoutKey) { configuration.engine.pingTimeout = value }
        if let value = try settings.integer(maxPayloadKey) { configuration.engine.maxPayload = value }
        if let value = try settings.integer(connectTimeoutKey) { configuration.connectTimeout = value }
        if let value = try settings.integer(historyKey) { configuration.history = value }
        if let value = try settings.flag(recoveryKey) { configuration.recovery = value }
        if let value = try settings.flag(seedPublishKey) { configuration.seedPublish = value }
        return SocketIOTransport(configuration: configuration, limits: context.limits, logger: context.logger)
    }

    static let pingIntervalKey = ConfigKeySpec(
        "ping-interval-ms", .integer(50...3_600_000), default: "\(EngineConfiguration().pingInterval)", "milliseconds between Engine.IO pings"
    )
    static let pingTimeoutKey = ConfigKeySpec(
        "ping-timeout-ms", .integer(50...3_600_000), default: "\(EngineConfiguration().pingTimeout)", "milliseconds a client has to answer a ping before its session closes"
    )
    static let maxPayloadKey = ConfigKeySpec(
        "max-payload", .integer(1024...(64 << 20)), default: "\(EngineConfiguration().maxPayload)", "largest Engine.IO message or polling body in bytes"
    )
    static let connectTimeoutKey = ConfigKeySpec(
        "connect-timeout-ms", .integer(100...3_600_000), default: "45000", "milliseconds a session may stay without joining a namespace (at most limits.pending-timeout)"
    )
    static let historyKey = ConfigKeySpec("history", .integer(0...100_000), default: "50", "newest events sent as event_history to a client that is not resuming")
    static let recoveryKey = ConfigKeySpec("recovery", .flag, default: "true", "stock connection-state recovery: a pid in the CONNECT reply and each event's offset")
    static let seedPublishKey = ConfigKeySpec("seed-publish", .flag, default: "true", "also serve POST /api/events for the seed's producers")

    /// The keys under `transport.socketio`.
    public static let keys = [pingIntervalKey, pingTimeoutKey, maxPayloadKey, connectTimeoutKey, historyKey, recoveryKey, seedPublishKey]
}
