public import Configuration
public import Logging
public import TetherCore
public import Hummingbird
import HummingbirdWebSocket
import ServiceLifecycle

/// `tether serve`: the relay core, the configured store and the HTTP surface, run as one
/// `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public struct RelayServer: Sendable {
    public var configuration: ServerConfiguration
    public var config: ConfigReader
    public var registry: PluginRegistry<TetherRouter>
    public var logger: Logger

    public init(configuration: ServerConfiguration, config: ConfigReader, registry: PluginRegistry<TetherRouter>, logger: Logger) {
        self.configuration = configuration
        self.config = config
        self.registry = registry
        self.logger = logger
    }

    /// Opens the store, starts listening and runs until a shutdown signal.
    ///
    /// - Throws: ``PluginError`` for an unknown store name, or what the store throws on open
    ///   (both before anything listens).
    public func run() async throws {
        let descriptor = try registry.store(named: configuration.storeName)
        let transports = try registry.transports(named: configuration.transportNames ?? registry.transports.map(\.name))
        let exporters = try registry.exporters(named: configuration.exporterNames ?? registry.exporters.map(\.name))
        let store: any BufferStore
        do {
            store = try await descriptor.make(context(for: "store", descriptor.name))
        } catch {
            throw RelayStartError("buffer store \"\(descriptor.name)\" could not be created: \(error)")
        }
        let relay = Relay(store: store, configuration: configuration.relay, logger: logger)
        do {
            try await relay.start()
        } catch {
            throw RelayStartError("buffer store \"\(descriptor.name)\" could not be opened: \(error)")
        }

        let readiness = Readiness()
        let router = TetherRouter(context: BasicWebSocketRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        EventRoutes(relay: relay, decoder: PublishRequestDecoder(limits: configuration.limits), readiness: readiness)
            .register(on: router)
        for descriptor in transports {
            try await descriptor.make(context(for: "transport", descriptor.name)).register(on: router, relay: relay)
        }
        for descriptor in exporters {
            try await descriptor.make(context(for: "exporter", descriptor.name)).register(on: router, relay: relay)
        }

        let logger = self.logger
        let storeName = descriptor.name
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "tether"
            ),
            onServerRunning: { channel in
                readiness.markReady()
                let port = channel.localAddress?.port ?? 0
                let host = channel.localAddress?.ipAddress ?? "?"
                let shown = host.contains(":") ? "[\(host)]" : host
                logger.notice(
                    "listening on http://\(shown):\(port)",
                    metadata: [
                        "store": "\(storeName)", "epoch": "\(relay.logState.epoch)",
                        "transports": "\(transports.map(\.name).joined(separator: ","))",
                        "exporters": "\(exporters.map(\.name).joined(separator: ","))",
                    ]
                )
            },
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: HealthMonitor(relay: relay))]
        if let shared = store as? any SharedLogStore {
            // Several relays share this log: fan out what the others commit.
            services.append(.init(service: LogFollower(relay: relay, store: shared)))
        }
        services.append(.init(service: app))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        logger.notice("stopped", metadata: ["head": "\(relay.logState.head)"])
    }
}

extension RelayServer {
    /// A plugin's context: its configuration slice is `<kind>.<name>` (e.g. `store.sqlite`).
    func context(for kind: String, _ name: String) -> PluginContext {
        PluginContext(
            config: config.scoped(to: [kind, name]),
            stateDirectory: configuration.stateDirectory,
            retention: configuration.relay.retention,
            logger: logger
        )
    }
}

/// The relay could not start: the store would not open, or the listener would not bind.
public struct RelayStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
