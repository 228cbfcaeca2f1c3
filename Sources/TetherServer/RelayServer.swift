public import Configuration
public import Logging
public import TetherCore
public import Hummingbird
public import TetherRouting
import HummingbirdWebSocket
import TetherDashboard
import HummingbirdCore
import NIOSSL
import NIOCore
import ServiceLifecycle

/// `tether serve`: the relay core, the configured store and the HTTP surface, run as one
/// `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public struct RelayServer: Sendable {
    public var configuration: ServerConfiguration
    public var config: ConfigReader
    public var registry: PluginRegistry<TetherRouter>
    public var logger: Logger
    /// What the surrounding process adds: readiness notification, extra services, an inherited
    /// listening socket. None by default.
    public var hooks = ServerHooks()
    /// Where each configured value came from, so plugin configuration errors can name it.
    public var origins = ConfigOrigins()
    /// Whether the listener is bound: set by the server once it accepts, read by `/readyz`.
    let readiness = Readiness()

    public init(configuration: ServerConfiguration, config: ConfigReader, registry: PluginRegistry<TetherRouter>, logger: Logger) {
        self.configuration = configuration
        self.config = config
        self.registry = registry
        self.logger = logger
    }

    /// Opens the store, starts listening and runs until a shutdown signal: four steps, each
    /// below.
    ///
    /// - Throws: ``PluginError`` for an unknown store name, or what the store throws on open
    ///   (both before anything listens).
    public func run() async throws {
        let plugins = try choosePlugins()
        let (relay, tls) = try await openRelay(plugins)
        let router = try await makeRouter(relay, plugins)
        let server = makeServer(router: router, relay: relay, plugins: plugins, tls: tls)
        try await runServices(relay: relay, server: server)
    }

    /// The plugins configuration names, by kind.
    struct ChosenPlugins {
        var store: PluginDescriptor<any BufferStore>
        var transports: [PluginDescriptor<any Transport<TetherRouter>>]
        var exporters: [PluginDescriptor<any MetricsExporter<TetherRouter>>]
    }

    /// Step 1: the plugins by name (an unknown name fails here, before anything is opened).
    func choosePlugins() throws -> ChosenPlugins {
        ChosenPlugins(
            store: try registry.store(named: configuration.storeName),
            transports: try registry.transports(named: configuration.transportNames ?? registry.transports.map(\.name)),
            exporters: try registry.exporters(named: configuration.exporterNames ?? registry.exporters.map(\.name))
        )
    }

    /// Step 2, the prelude: creates the store and the relay, says what is about to run (and what
    /// is risky about it), loads the TLS files, and opens the store. Nothing listens yet.
    func openRelay(_ plugins: ChosenPlugins) async throws -> (Relay, TLSConfiguration?) {
        let descriptor = plugins.store
        let store: any BufferStore
        do {
            store = try await descriptor.make(context(for: "store", descriptor.name))
        } catch {
            throw RelayStartError("buffer store \"\(descriptor.name)\" could not be created: \(error)")
        }
        let relay = Relay(store: store, configuration: configuration.relay, logger: logger)
        logger.notice("\(configuration.summary(store: descriptor.name, transports: plugins.transports.map(\.name), exporters: plugins.exporters.map(\.name)))")
        if let warning = configuration.insecureWarning {
            logger.critical("\(warning)", metadata: ["listen": "\(configuration.host):\(configuration.port)"])
        }
        if let limit = FileDescriptorLimit.current(), let warning = limit.warning(maxConnections: configuration.relay.admission.maxConnections) {
            logger.warning("\(warning)")
        }
        if !ServerConfiguration.isLoopback(configuration.host), configuration.tls == nil {
            logger.warning(
                "listening on \(configuration.host) beyond loopback without TLS: tokens and events cross the network in clear text; set tls.cert and tls.key, or put a TLS proxy in front"
            )
        }
        let tls: TLSConfiguration?
        do {
            tls = try configuration.tls?.serverConfiguration()
        } catch {
            try? await store.close()
            throw error
        }
        do {
            try await relay.start()
        } catch {
            throw RelayStartError("buffer store \"\(descriptor.name)\" could not be opened: \(error)")
        }
        return (relay, tls)
    }

    /// Step 3: the HTTP surface: middleware, the core's routes, the dashboard, and every chosen
    /// transport and exporter.
    func makeRouter(_ relay: Relay, _ plugins: ChosenPlugins) async throws -> TetherRouter {
        // HEAD is answered wherever GET is (monitoring probes use it), from the GET route with
        // the body left out.
        let router = TetherRouter(context: TetherRequestContext.self, options: .autoGenerateHeadEndpoints)
        // Outermost: every request is counted under the status it was answered with, refusals included.
        router.add(middleware: HTTPMetricsMiddleware())
        // Then: a request must name the relay by a name it answers to (DNS rebinding);
        // then a page from another site is refused before any route or error handling runs.
        // With socket activation the relay answers on the socket's address, not `listen`'s.
        let hosts = hooks.listeningSocket.flatMap(InheritedSocketServer.localHost(of:)).map(configuration.hosts.listening(on:)) ?? configuration.hosts
        router.add(middleware: HostMiddleware(policy: hosts, relay: relay))
        logger.info("Host check: \(hosts.summary)", metadata: ["listen": "\(configuration.host):\(configuration.port)"])
        router.add(middleware: OriginMiddleware(policy: configuration.origins, relay: relay))
        router.add(middleware: JSONErrorMiddleware())
        EventRoutes(relay: relay, decoder: PublishRequestDecoder(limits: configuration.limits), readiness: readiness)
            .register(on: router)
        DashboardRoutes().register(on: router)
        for descriptor in plugins.transports {
            try await descriptor.make(context(for: "transport", descriptor.name)).register(on: router, relay: relay)
        }
        for descriptor in plugins.exporters {
            try await descriptor.make(context(for: "exporter", descriptor.name)).register(on: router, relay: relay)
        }
        return router
    }

    /// Step 4a: the listener (or the inherited socket, with socket activation) with its
    /// connection limits, handshake and body deadlines, and what happens once it accepts.
    func makeServer(router: TetherRouter, relay: Relay, plugins: ChosenPlugins, tls: TLSConfiguration?) -> any Service {
        let configuration = self.configuration
        let logger = self.logger
        let storeName = plugins.store.name
        let transports = plugins.transports
        let exporters = plugins.exporters
        let hooks = self.hooks
        let readiness = self.readiness
        let connections = ConnectionChannelFactory(
            http: .init(
                // The idle timeout bounds the time between requests; the handshake deadline bounds
                // the TLS handshake and the first request head (Hummingbird's idle timer starts
                // after it). The WebSocket layer's own frame limit is a backstop: a transport
                // enforces its configured (lower or equal) limit with an error frame before
                // closing with 1009.
                // A request body must be complete within the body timeout of its head; the idle
                // timer counts every body part as activity, however small.
                http1: HTTP1Channel.Configuration(
                    additionalChannelHandlers: [
                        RequestBodyDeadlineHandler(timeout: .milliseconds(Int64(configuration.bodyTimeout * 1000))) { error, address in
                            relay.gate.noteRefusal(error, client: TetherRequestContext.host(of: address))
                        }
                    ],
                    idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000))
                ),
                // No WebSocket-level pings: the native transport's JSON ping keeps a connection
                // alive and measures it, and Engine.IO has its own heartbeat; 10,000 idle
                // connections each with a ping task cost a sleeping task and a wake-up apiece.
                ws: WebSocketServerConfiguration(maxFrameSize: Self.webSocketFrameCeiling(configuration.limits), autoPing: .disabled)
            ),
            tls: tls,
            handshakeTimeout: .milliseconds(Int64(configuration.handshakeTimeout * 1000)),
            onHandshakeFailure: { failure, address in
                let error = switch failure {
                case .timeout:
                    RelayError(.handshakeTimeout, "no complete request head within \(configuration.handshakeTimeout) s of connecting (limits.handshake-timeout); connection closed")
                case .error(let error):
                    RelayError(.handshakeFailed, "connection failed before its first request (\(error)); with TLS on, clients must use https:// and wss:// and trust the certificate")
                }
                relay.gate.noteRefusal(error, client: TetherRequestContext.host(of: address))
            }
        )
        let webSocketResponder = router.buildResponder()
        let scheme = tls == nil ? "http" : "https"
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                try connections.make(responder: responder, webSocketResponder: webSocketResponder)
            },
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "tether"
            ),
            onServerRunning: { channel in
                // The listener: at the descriptor limit, pause accepting instead of spinning;
                // count every pause, and say so (with the limit and the remedy) once a minute.
                let acceptWarnings = RefusalLog()
                try? await AcceptPauseHandler.install(on: channel) { failure, pause in
                    relay.counters.countRefused(.init(rawValue: "fd_limit"))
                    guard acceptWarnings.shouldLog(client: "listener", reason: "fd_limit") else { return }
                    logger.warning(
                        "\(AcceptPauseHandler.warning(errno: failure.errnoCode, limit: FileDescriptorLimit.current()))",
                        metadata: ["error": "\(failure)", "pause_ms": "\(pause.nanoseconds / 1_000_000)"]
                    )
                }
                readiness.markReady()
                let port = channel.localAddress?.port ?? 0
                let host = channel.localAddress?.ipAddress ?? "?"
                let shown = host.contains(":") ? "[\(host)]" : host
                logger.notice(
                    "listening on \(scheme)://\(shown):\(port)",
                    metadata: [
                        "store": "\(storeName)", "epoch": "\(relay.logState.epoch)",
                        "transports": "\(transports.map(\.name).joined(separator: ","))",
                        "exporters": "\(exporters.map(\.name).joined(separator: ","))",
                    ]
                )
                await hooks.onRunning(relay)
            },
            logger: logger
        )
        // Socket activation: the same application, served on the inherited socket.
        let server: any Service = if let socket = hooks.listeningSocket {
            InheritedSocketServer(router: router, connections: connections, socket: socket, serverName: "tether", onServerRunning: { await app.onServerRunning($0) }, logger: logger)
        } else {
            app
        }
        return ServerUntilConnectionsClose(server: server, connections: connections.open, logger: logger)
    }

    /// Step 4b: runs every long-running part in one `ServiceGroup` until SIGTERM or SIGINT.
    ///
    /// The shutdown order, in one place. The group starts the services in this order and stops
    /// them in the reverse order, each only after the one after it returned:
    /// 1. ``ShutdownNotice`` hears of the shutdown first and logs it;
    /// 2. the process's own services (``ServerHooks/services``: systemd's status, reload and
    ///    watchdog), so `STOPPING=1` goes out before connections close;
    /// 3. the HTTP server: it stops accepting, asks every open connection to finish (WebSocket
    ///    clients get close 1000) and returns when the last one has closed
    ///    (``ServerUntilConnectionsClose``), within `grace`;
    /// 4. the relay's own services (``Relay/makeServices()``, whose doc comment gives their
    ///    order): the ``LogFollower`` (over a shared log) and the ``HealthMonitor``, then the
    ///    ``PublishDrainer``, which answers every producer still waiting, then ``StoreLifetime``
    ///    last, which closes the store and so ends the store's own background work (PostgreSQL's
    ///    pool and listener). No task of the relay outlives the group.
    /// Past `grace` the group cancels what is left; the store is then closed here, after the
    /// group returned.
    func runServices(relay: Relay, server: any Service) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = relay.makeServices().map { .init(service: $0) }
        services.append(.init(service: server))
        services += hooks.services(relay).map { .init(service: $0) }
        let grace = Duration.seconds(10)
        services.append(.init(service: ShutdownNotice(logger: logger, grace: grace), successTerminationBehavior: .ignore))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Connections get 10 s to finish after SIGTERM, then they are cancelled: shutdown is
        // bounded (the unit's TimeoutStopSec is 30 s) even with clients that never close.
        groupConfiguration.maximumGracefulShutdownDuration = grace
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            try? await relay.close()
            throw ListenFailure.explain(error, host: configuration.host, port: configuration.port) ?? error
        }
        try await relay.close()
        logger.notice("stopped", metadata: ["head": "\(relay.logState.head)"])
    }
}

extension RelayServer {
    /// A plugin's context: its configuration slice is `<kind>.<name>` (e.g. `store.sqlite`).
    func context(for kind: String, _ name: String) -> PluginContext {
        PluginContext(
            config: config.scoped(to: [kind, name]),
            settings: Settings(reader: config, origins: origins).scoped(to: kind, name),
            stateDirectory: configuration.stateDirectory,
            retention: configuration.relay.retention,
            limits: configuration.limits,
            logger: logger
        )
    }
}

extension RelayServer {
    /// The largest WebSocket frame the server reads at all: an event of the largest allowed size
    /// plus room for its envelope.
    static func webSocketFrameCeiling(_ limits: IngestLimits) -> Int {
        limits.maxEventBytes + 64 * 1024
    }
}

/// The relay could not start: the store would not open, or the listener would not bind.
public struct RelayStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// 2 when the configuration must change (a bad address, a port that needs privileges), 1 when
    /// the cause is outside it and may pass (the port is taken).
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 2) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}
