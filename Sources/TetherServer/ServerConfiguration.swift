public import Configuration
public import TetherCore
public import Foundation
import SQLiteStore

/// Everything `tether serve` runs with, read once at start-up from the layered configuration
/// (flags > `TETHER_*` environment > config file > defaults). Every value is checked here, so a
/// bad one stops start-up with one line naming the key, the value and what would be valid.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8765
    public var storeName = "sqlite"
    /// Transport and exporter plugins to enable; `nil` enables every one compiled in.
    public var transportNames: [String]?
    public var exporterNames: [String]?
    public var stateDirectory = "./tether-data"
    public var relay = RelayConfiguration()
    public var limits = IngestLimits()
    public var logLevel = "info"
    /// Listen beyond loopback even with an open (tokenless) scope.
    public var insecure = false
    /// Seconds an HTTP connection may stay idle between requests.
    public var idleTimeout: Double = 30
    /// Seconds a new connection has to finish its TLS handshake and send its first request head
    /// (slowloris).
    public var handshakeTimeout: Double = 10
    /// Seconds a request has, from its head, to deliver the rest of its body (slow bodies);
    /// past it the request is answered 408 `body_timeout` and the connection closed.
    public var bodyTimeout: Double = 60
    /// Serve HTTPS and WSS with this certificate chain and key (PEM files); `nil` serves plain HTTP.
    public var tls: TLSFiles?
    /// Which browser pages may use the relay: requests with an `Origin` header must come from
    /// the relay's own origin or one listed here.
    public var origins = OriginPolicy()
    /// Which names requests may carry in `Host` (DNS rebinding): loopback names, the listen
    /// address, and these.
    public var hosts = HostPolicy()

    public init() {}

    /// Reads and checks every key. `environment` supplies `STATE_DIRECTORY` (set by systemd).
    public init(reader: ConfigReader, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        try self.init(settings: Settings(reader: reader), environment: environment)
    }

    /// Reads and checks every key of ``CoreConfigKeys``; errors name the value's source.
    public init(settings values: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        typealias K = CoreConfigKeys
        if let listen = try values.text(K.listen) {
            (host, port) = try Self.parseListen(listen, values: values)
        }
        storeName = try values.text(K.store) ?? storeName
        transportNames = values.list(K.transports)
        exporterNames = values.list(K.exporters)
        stateDirectory = try values.text(K.stateDir) ?? environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? stateDirectory
        relay.retention.ttl = try values.number(K.retentionTTL) ?? relay.retention.ttl
        relay.retention.maxEvents = try values.integer(K.retentionMaxEvents) ?? relay.retention.maxEvents
        relay.retention.maxBytes = try values.integer(K.retentionMaxBytes) ?? relay.retention.maxBytes
        relay.clientRecordTTL = relay.retention.ttl
        relay.lagCap = try values.integer(K.lagCap) ?? relay.lagCap
        relay.window = try values.integer(K.window) ?? relay.window
        relay.staleTimeout = try values.number(K.staleTimeout) ?? relay.staleTimeout
        relay.sweepInterval = try values.number(K.sweepInterval) ?? relay.sweepInterval
        limits.maxEventBytes = try values.integer(K.maxEventBytes) ?? limits.maxEventBytes
        limits.maxBodyBytes = try values.integer(K.maxBodyBytes) ?? limits.maxBodyBytes
        limits.maxBatchEvents = try values.integer(K.maxBatchEvents) ?? limits.maxBatchEvents
        limits.maxDepth = try values.integer(K.maxDepth) ?? limits.maxDepth
        relay.admission.maxConnections = try values.integer(K.maxConnections) ?? relay.admission.maxConnections
        relay.admission.maxConnectionsPerAddress = try values.integer(K.maxConnectionsPerAddress) ?? relay.admission.maxConnectionsPerAddress
        relay.admission.maxPendingConnections = try values.integer(K.maxPendingConnections) ?? relay.admission.maxPendingConnections
        relay.admission.maxPendingConnectionsPerAddress = try values.integer(K.maxPendingConnectionsPerAddress) ?? relay.admission.maxPendingConnectionsPerAddress
        relay.admission.pendingTimeout = try values.number(K.pendingTimeout) ?? relay.admission.pendingTimeout
        relay.admission.publishEventsPerSecond = try values.number(K.publishRate) ?? relay.admission.publishEventsPerSecond
        relay.admission.publishBurst = try values.number(K.publishBurst) ?? relay.admission.publishBurst
        relay.admission.maxTopicsPerClient = try values.integer(K.maxTopicsPerClient) ?? relay.admission.maxTopicsPerClient
        relay.admission.maxClientRecords = try values.integer(K.maxClientRecords) ?? relay.admission.maxClientRecords
        idleTimeout = try values.number(K.idleTimeout) ?? idleTimeout
        handshakeTimeout = try values.number(K.handshakeTimeout) ?? handshakeTimeout
        bodyTimeout = try values.number(K.bodyTimeout) ?? bodyTimeout
        let (cert, key) = (try values.text(K.tlsCert), try values.text(K.tlsKey))
        tls = try Self.sourced(values, cert != nil ? K.tlsCert : K.tlsKey) { () throws(ConfigurationError) in try TLSFiles(certificate: cert, key: key) }
        let origins = values.list(K.allowedOrigins) ?? []
        self.origins = try Self.sourced(values, K.allowedOrigins) { () throws(ConfigurationError) in try OriginPolicy(origins) }
        let hosts = values.list(K.allowedHosts) ?? []
        let listen = host
        self.hosts = try Self.sourced(values, K.allowedHosts) { () throws(ConfigurationError) in try HostPolicy(hosts, listen: listen) }
        relay.access = try Self.accessPolicy(values, environment: environment)
        insecure = try values.flag(K.insecure) ?? false
        if !Self.isLoopback(host), !insecure {
            let open = AccessPolicy.Scope.allCases.filter { relay.access.isOpen($0) }.map(\.rawValue)
            if !open.isEmpty {
                throw ConfigurationError(
                    "listen \(host):\(port) is beyond loopback but \(open.joined(separator: " and ")) needs no token; set auth.producer-tokens and auth.subscriber-tokens (or systemd LoadCredential=), or pass --insecure to accept the risk"
                )
            }
        }
        logLevel = try values.text(K.logLevel) ?? logLevel
    }

    /// Runs a check of `spec`'s value and adds the value's source to its error.
    static func sourced<T>(_ values: Settings, _ spec: ConfigKeySpec, _ body: () throws(ConfigurationError) -> T) throws(ConfigurationError) -> T {
        do {
            return try body()
        } catch {
            guard let origin = values.origins.origin(of: spec.key) else { throw error }
            throw ConfigurationError(error.message + " (\(spec.key) from \(origin))")
        }
    }

    /// What an operator must not miss when `--insecure` opened the relay beyond loopback: logged
    /// at start and kept at the front of systemd's `STATUS=`. `nil` when nothing is open.
    public var insecureWarning: String? {
        guard insecure, !Self.isLoopback(host) else { return nil }
        let open = AccessPolicy.Scope.allCases.filter { relay.access.isOpen($0) }.map(\.rawValue)
        guard !open.isEmpty else { return nil }
        return "INSECURE: listening on \(host) beyond loopback with no token required to \(open.joined(separator: " or ")); anyone who can reach this port can do so"
    }

    /// Tokens from configuration plus `$CREDENTIALS_DIRECTORY/{producer,subscriber}-tokens`.
    static func accessPolicy(_ values: Settings, environment: [String: String]) throws(ConfigurationError) -> AccessPolicy {
        func tokens(_ key: ConfigKeySpec, file: String) throws(ConfigurationError) -> [String] {
            var found = values.list(key) ?? []
            if let directory = environment["CREDENTIALS_DIRECTORY"] {
                let path = directory + "/" + file
                if FileManager.default.fileExists(atPath: path) {
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw ConfigurationError("credential \(path) is not readable UTF-8 text")
                    }
                    found += text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
                }
            }
            if let short = found.first(where: { $0.utf8.count < 16 }) {
                let source = values.origins.origin(of: key.key).map { " (from \($0))" } ?? ""
                throw ConfigurationError("\(key.key) has a token of \(short.utf8.count) characters\(source); use at least 16 (e.g. openssl rand -hex 32)")
            }
            return found
        }
        return AccessPolicy(
            producerTokens: try tokens(CoreConfigKeys.producerTokens, file: "producer-tokens"),
            subscriberTokens: try tokens(CoreConfigKeys.subscriberTokens, file: "subscriber-tokens")
        )
    }

    /// Whether `host` is `localhost` or a loopback address (127.0.0.0/8, `::1`, `::ffff:127.x.x.x`),
    /// parsed as an address: `127.attacker.invalid` is a name that DNS may point anywhere.
    static func isLoopback(_ host: String) -> Bool {
        if HostPolicy.canonicalName(host) == "localhost" { return true }
        return IPAddressLiteral(host)?.isLoopback ?? false
    }

    static func parseListen(_ text: String, values: Settings = Settings(reader: ConfigReader(providers: []))) throws(ConfigurationError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else {
            throw values.invalid(CoreConfigKeys.listen, text, "HOST:PORT (for example 127.0.0.1:8765)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw values.invalid(CoreConfigKeys.listen, text, "HOST:PORT with a port from 0 to 65535")
        }
        return (host, port)
    }
}

extension ServerConfiguration {
    /// The settings in force, in one start-up log line, so an operator sees what the relay runs with.
    public func summary(store: String, transports: [String], exporters: [String]) -> String {
        let retention = relay.retention
        return "configuration: store=\(store) state-dir=\(stateDirectory) transports=\(transports.joined(separator: ",")) "
            + "exporters=\(exporters.joined(separator: ",")) retention.ttl=\(ConfigKeySpec.show(retention.ttl))s "
            + "retention.max-events=\(retention.maxEvents) retention.max-bytes=\(retention.maxBytes) lag-cap=\(relay.lagCap) window=\(relay.window) "
            + "limits: max-event-bytes=\(limits.maxEventBytes) max-body-bytes=\(limits.maxBodyBytes) max-batch-events=\(limits.maxBatchEvents) "
            + "max-connections=\(relay.admission.maxConnections) max-connections-per-address=\(relay.admission.maxConnectionsPerAddress) "
            + "publish-rate=\(ConfigKeySpec.show(relay.admission.publishEventsPerSecond))/s"
    }
}
