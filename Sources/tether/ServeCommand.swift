import ArgumentParser
import Configuration
import Foundation
import Logging
import Metrics
import PrometheusExporter
import SystemPackage
import TetherCore
import TetherServer
import TetherRouting
import TetherSystemd

/// `tether serve`: run the relay in the foreground until SIGTERM or SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the relay.",
        discussion: """
            Configuration layers, highest first: these flags, TETHER_* environment variables \
            (key retention.max-events is TETHER_RETENTION_MAX_EVENTS), the config file (JSON, or \
            YAML when it ends in .yaml or .yml), defaults. An unknown key or TETHER_* variable stops \
            start-up (exit 2). `tether config check` checks a configuration, `tether config show` \
            shows the values in force. Keys (docs/CONFIGURATION.md):
            \(PluginRegistry<TetherRouter>.builtins.allKeys.map { "  \($0.key) (default \($0.defaultValue)): \($0.doc)" }.joined(separator: "\n"))
            """
    )

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8765).")
    var listen: String?

    @Option(help: "Buffer store plugin (see `tether plugins`).")
    var store: String?

    @Option(help: "Directory for durable stores.")
    var stateDir: String?

    @Option(help: "Configuration file, JSON or YAML (.yaml, .yml) (also TETHER_CONFIG).")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Flag(help: "Listen beyond loopback even where no token is configured (not recommended).")
    var insecure = false

    @Option(help: "PEM certificate chain: serve HTTPS and WSS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(help: "Comma-separated browser origins allowed besides the relay's own (scheme://host[:port]), or *.")
    var allowedOrigins: String?

    @Option(help: "Comma-separated host names or addresses clients may use in Host besides loopback names and the listen address, or *.")
    var allowedHosts: String?

    @Option(help: "Where to log: journal, stderr, or auto (the journal when systemd connected stderr to it).")
    var log: String = "auto"

    @Flag(help: "Debug only: SIGUSR1 wedges the buffer store, SIGUSR2 releases it (shows that the watchdog stops).")
    var debugFaults = false

    func run() async throws {
        // Until the reload service traps SIGHUP, a hangup must not end the relay.
        signal(SIGHUP, SIG_IGN)
        let environment = ProcessInfo.processInfo.environment
        let notifier = SystemdNotifier(environment: environment)
        let server: RelayServer
        switch await makeServer(environment: environment) {
        case .success(let made): server = made
        case .failure(let error): throw Self.fail("bad configuration: \(error)", notifying: notifier)
        }
        do {
            try await server.run()
        } catch let error as PluginError {
            throw Self.fail("\(error); see `tether plugins`", notifying: notifier)
        } catch let error as ConfigurationError {
            throw Self.fail("bad configuration: \(error)", notifying: notifier)
        } catch let error as RelayStartError {
            throw Self.fail("\(error)", notifying: notifier, status: error.exitCode)
        } catch {
            notifier.startupFailed(errno: StartupFailure.errno(of: error), status: "\(error)")
            FileHandle.standardError.write(Data("tether: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    private func makeServer(environment: [String: String]) async -> Result<RelayServer, ConfigurationError> {
        do throws(ConfigurationError) {
            let layers = try await loadLayers(environment: environment)
            let settings = try ServerConfiguration(settings: layers.settings, environment: environment)
            guard let destination = LogDestination(rawValue: log) else {
                throw ConfigurationError("--log \"\(log)\" is not one of journal, stderr, auto")
            }
            let level = ReloadableLogLevel(Logger.Level(rawValue: settings.logLevel) ?? .info)
            LoggingSystem.bootstrap(destination.makeHandlerFactory(level: level, environment: environment))
            // Library metrics (Hummingbird's) go to the registry the Prometheus exporter emits.
            MetricsSystem.bootstrap(LibraryMetricsFactory())
            let logger = Logger(label: "tether")
            if let (before, after) = FileDescriptorLimit.raiseSoftToHard() {
                logger.notice("raised the open-file limit (RLIMIT_NOFILE) from \(before.soft) to \(after.soft), the hard limit: one per connection")
            }
            let wedge = debugFaults ? WedgeSwitch() : nil
            let systemd = try SystemdWiring(environment: environment, logger: logger, wedge: wedge, warning: settings.insecureWarning) {
                // What SIGHUP applies without a restart: the log level (docs/OPERATIONS.md).
                let reloaded = try ServerConfiguration(settings: try await loadLayers(environment: environment).settings, environment: environment)
                level.level = Logger.Level(rawValue: reloaded.logLevel) ?? level.level
                return "log.level=\(level.level)"
            }
            var server = RelayServer(
                configuration: settings, config: layers.settings.reader,
                registry: wedge.map { PluginRegistry.builtins.wedgeable(by: $0) } ?? .builtins, logger: logger
            )
            server.origins = layers.settings.origins
            server.hooks = systemd.hooks
            return .success(server)
        } catch {
            return .failure(error)
        }
    }

    /// flags > TETHER_* environment > config file > defaults, checked against every declared key.
    private func loadLayers(environment: [String: String]) async throws(ConfigurationError) -> ConfigLayers {
        try await ConfigLayers.load(
            flags: flagValues, environment: environment, configPath: config ?? environment["TETHER_CONFIG"], declared: PluginRegistry<TetherRouter>.builtins.allKeys
        )
    }

    /// The configuration keys these flags set, with the flag's spelling for error messages.
    var flagValues: [ConfigLayers.Flag] {
        var flags: [ConfigLayers.Flag] = []
        if let listen { flags.append(.init("listen", listen, flag: "--listen")) }
        if let store { flags.append(.init("store", store, flag: "--store")) }
        if let stateDir { flags.append(.init("state-dir", stateDir, flag: "--state-dir")) }
        if let logLevel { flags.append(.init("log.level", logLevel, flag: "--log-level")) }
        if insecure { flags.append(.init("insecure", "true", flag: "--insecure")) }
        if let tlsCert { flags.append(.init("tls.cert", tlsCert, flag: "--tls-cert")) }
        if let tlsKey { flags.append(.init("tls.key", tlsKey, flag: "--tls-key")) }
        if let allowedOrigins { flags.append(.init("allowed-origins", allowedOrigins, flag: "--allowed-origins")) }
        if let allowedHosts { flags.append(.init("allowed-hosts", allowedHosts, flag: "--allowed-hosts")) }
        return flags
    }

    /// Prints one line naming the problem and exits with status 2; tells systemd why, when it
    /// listens.
    static func fail(_ message: String, notifying notifier: SystemdNotifier? = nil, status: Int32 = 2) -> ExitCode {
        notifier?.startupFailed(errno: nil, status: message)
        FileHandle.standardError.write(Data("tether: error: \(message)\n".utf8))
        return ExitCode(status)
    }
}
