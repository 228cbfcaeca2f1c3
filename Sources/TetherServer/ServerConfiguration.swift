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

    /// The documented keys, as `(key, environment variable, default, meaning)`, for `--help` and docs.
    public static let keys: [(key: String, meaning: String)] = [
        ("listen", "HOST:PORT to listen on (default 127.0.0.1:8765)"),
        ("store", "buffer store plugin: sqlite (durable, default) or memory (volatile); see `tether plugins`"),
        ("transports", "comma-separated transport plugins (default: all compiled in)"),
        ("exporters", "comma-separated metrics exporter plugins (default: all compiled in)"),
        ("state-dir", "directory for durable stores (default $STATE_DIRECTORY, else ./tether-data); sqlite keeps tether.sqlite there"),
        ("retention.ttl", "seconds an event is retained (default 300)"),
        ("retention.max-events", "most events retained (default 100000)"),
        ("retention.max-bytes", "most bytes retained (default 268435456)"),
        ("lag-cap", "per-client lag cap in events (default 1000)"),
        ("window", "unacked events in flight per connection (default 256)"),
        ("stale-timeout", "seconds of silence before a connection is stale (default 90)"),
        ("sweep-interval", "seconds between health sweeps (default 5)"),
        ("limits.max-event-bytes", "largest event payload in bytes (default 1048576)"),
        ("limits.max-body-bytes", "largest publish request body in bytes (default 16777216)"),
        ("limits.max-batch-events", "most events per publish request (default 10000)"),
        ("limits.max-depth", "deepest JSON nesting accepted (default 64)"),
        ("limits.idle-timeout", "seconds an HTTP connection may stay idle between requests (default 30)"),
        ("limits.handshake-timeout", "seconds a new connection has to finish TLS and send its first request head, against slowloris (default 10)"),
        ("limits.body-timeout", "seconds a request has, after its head, to send its whole body; slower bodies get 408 body_timeout and the connection is closed (default 60)"),
        ("limits.max-connections", "most subscriber connections open at once, 0 = no limit (default 10000); past it 503 server_busy"),
        ("limits.max-connections-per-address", "most subscriber connections from one address, 0 = no limit (default 1000); past it 429 too_many_connections"),
        ("limits.max-pending-connections", "most connections waiting to authenticate (a Socket.IO session before its CONNECT with a token), apart from max-connections, 0 = no limit (default 64); past it 503 server_busy"),
        ("limits.max-pending-connections-per-address", "most connections waiting to authenticate from one address, 0 = no limit (default 8); past it 429 too_many_connections"),
        ("limits.pending-timeout", "seconds a connection may wait to authenticate before it is closed (default 10)"),
        ("limits.publish-rate", "events per second one address may publish, 0 = no limit (default 50000); past it 429 rate_limited with Retry-After"),
        ("limits.publish-burst", "events one address may publish in a burst (default 100000)"),
        ("limits.max-topics-per-client", "most topics one subscription may name, 0 = no limit (default 1000)"),
        ("limits.max-client-records", "most client records kept; a new id past it evicts those disconnected longest first (default 20000)"),
        ("auth.producer-tokens", "comma-separated bearer tokens allowed to publish (also $CREDENTIALS_DIRECTORY/producer-tokens, one per line); none = open"),
        ("auth.subscriber-tokens", "comma-separated bearer tokens allowed to subscribe (also $CREDENTIALS_DIRECTORY/subscriber-tokens); none = open"),
        ("insecure", "true to listen beyond loopback without tokens (default false)"),
        ("tls.cert", "PEM certificate chain file: serve HTTPS/WSS (with tls.key)"),
        ("tls.key", "PEM private key file for tls.cert"),
        ("allowed-origins", "comma-separated browser origins (scheme://host[:port]) allowed besides the relay's own, or * for any; other Origins get 403 origin_not_allowed (default: none)"),
        ("allowed-hosts", "comma-separated host names or addresses clients may use in Host besides loopback names and the listen address (any address when listening on 0.0.0.0 or ::), or * for any; other Hosts get 421 host_not_allowed (default: none)"),
        ("log.level", "trace, debug, info, notice, warning, error or critical (default info)"),
    ] + SQLiteBufferStore.Configuration.keys.map { ("store.sqlite.\($0.key)", $0.meaning) }

    /// Reads and checks every key. `environment` supplies `STATE_DIRECTORY` (set by systemd).
    public init(reader: ConfigReader, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        let values = ConfigValues(reader: reader)
        if let listen = values.text("listen") {
            (host, port) = try Self.parseListen(listen)
        }
        storeName = values.text("store") ?? storeName
        transportNames = values.list("transports")
        exporterNames = values.list("exporters")
        stateDirectory = values.text("state-dir") ?? environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? stateDirectory
        relay.retention.ttl = try values.number("retention.ttl", default: relay.retention.ttl, range: 1...(86_400 * 365))
        relay.retention.maxEvents = try values.integer("retention.max-events", default: relay.retention.maxEvents, range: 1...1_000_000_000)
        relay.retention.maxBytes = try values.integer("retention.max-bytes", default: relay.retention.maxBytes, range: 1024...Int.max)
        relay.clientRecordTTL = relay.retention.ttl
        relay.lagCap = try values.integer("lag-cap", default: relay.lagCap, range: 1...10_000_000)
        relay.window = try values.integer("window", default: relay.window, range: 1...65_536)
        relay.staleTimeout = try values.number("stale-timeout", default: relay.staleTimeout, range: 1...86_400)
        relay.sweepInterval = try values.number("sweep-interval", default: relay.sweepInterval, range: 0.05...3600)
        limits.maxEventBytes = try values.integer("limits.max-event-bytes", default: limits.maxEventBytes, range: 1...(64 << 20))
        limits.maxBodyBytes = try values.integer("limits.max-body-bytes", default: limits.maxBodyBytes, range: 1...(1 << 30))
        limits.maxBatchEvents = try values.integer("limits.max-batch-events", default: limits.maxBatchEvents, range: 1...1_000_000)
        limits.maxDepth = try values.integer("limits.max-depth", default: limits.maxDepth, range: 2...1024)
        relay.admission.maxConnections = try values.integer("limits.max-connections", default: relay.admission.maxConnections, range: 0...10_000_000)
        relay.admission.maxConnectionsPerAddress = try values.integer("limits.max-connections-per-address", default: relay.admission.maxConnectionsPerAddress, range: 0...10_000_000)
        relay.admission.maxPendingConnections = try values.integer("limits.max-pending-connections", default: relay.admission.maxPendingConnections, range: 0...10_000_000)
        relay.admission.maxPendingConnectionsPerAddress = try values.integer("limits.max-pending-connections-per-address", default: relay.admission.maxPendingConnectionsPerAddress, range: 0...10_000_000)
        relay.admission.pendingTimeout = try values.number("limits.pending-timeout", default: relay.admission.pendingTimeout, range: 0.1...3600)
        relay.admission.publishEventsPerSecond = try values.number("limits.publish-rate", default: relay.admission.publishEventsPerSecond, range: 0...1e9)
        relay.admission.publishBurst = try values.number("limits.publish-burst", default: relay.admission.publishBurst, range: 1...1e9)
        relay.admission.maxTopicsPerClient = try values.integer("limits.max-topics-per-client", default: relay.admission.maxTopicsPerClient, range: 0...1_000_000)
        relay.admission.maxClientRecords = try values.integer("limits.max-client-records", default: relay.admission.maxClientRecords, range: 1...100_000_000)
        idleTimeout = try values.number("limits.idle-timeout", default: idleTimeout, range: 0.1...3600)
        handshakeTimeout = try values.number("limits.handshake-timeout", default: handshakeTimeout, range: 0.1...3600)
        bodyTimeout = try values.number("limits.body-timeout", default: bodyTimeout, range: 0.1...86_400)
        tls = try TLSFiles(certificate: values.text("tls.cert"), key: values.text("tls.key"))
        origins = try OriginPolicy(values.list("allowed-origins") ?? [])
        hosts = try HostPolicy(values.list("allowed-hosts") ?? [], listen: host)
        relay.access = try Self.accessPolicy(values, environment: environment)
        insecure = try values.flag("insecure", default: false)
        if !Self.isLoopback(host), !insecure {
            let open = AccessPolicy.Scope.allCases.filter { relay.access.isOpen($0) }.map(\.rawValue)
            if !open.isEmpty {
                throw ConfigurationError(
                    "listen \(host):\(port) is beyond loopback but \(open.joined(separator: " and ")) needs no token; set auth.producer-tokens and auth.subscriber-tokens (or systemd LoadCredential=), or pass --insecure to accept the risk"
                )
            }
        }
        logLevel = values.text("log.level") ?? logLevel
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(logLevel) else {
            throw ConfigurationError("log.level \"\(logLevel)\" is not one of \(levels.joined(separator: ", "))")
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
    static func accessPolicy(_ values: ConfigValues, environment: [String: String]) throws(ConfigurationError) -> AccessPolicy {
        func tokens(_ key: ConfigKey, file: String) throws(ConfigurationError) -> [String] {
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
                throw ConfigurationError("\(key) has a token of \(short.utf8.count) characters; use at least 16 (e.g. openssl rand -hex 32)")
            }
            return found
        }
        return AccessPolicy(
            producerTokens: try tokens("auth.producer-tokens", file: "producer-tokens"),
            subscriberTokens: try tokens("auth.subscriber-tokens", file: "subscriber-tokens")
        )
    }

    /// Whether `host` is `localhost` or a loopback address (127.0.0.0/8, `::1`, `::ffff:127.x.x.x`),
    /// parsed as an address: `127.attacker.invalid` is a name that DNS may point anywhere.
    static func isLoopback(_ host: String) -> Bool {
        if HostPolicy.canonicalName(host) == "localhost" { return true }
        return IPAddressLiteral(host)?.isLoopback ?? false
    }

    static func parseListen(_ text: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigurationError("listen \"\(text)\" is not HOST:PORT (for example 127.0.0.1:8765)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ConfigurationError("listen \"\(text)\" is not HOST:PORT with a port from 0 to 65535")
        }
        return (host, port)
    }
}

/// A configuration value was missing, malformed or out of range. The message names the key.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads keys whatever type their provider gave them (environment variables are text, a JSON
/// file may hold numbers), so that a malformed value is reported instead of silently ignored.
struct ConfigValues {
    let reader: ConfigReader

    func text(_ key: ConfigKey) -> String? {
        if let string = reader.string(forKey: key) { return string }
        if let int = reader.int(forKey: key) { return String(int) }
        if let double = reader.double(forKey: key) { return String(double) }
        if let bool = reader.bool(forKey: key) { return String(bool) }
        return nil
    }

    func flag(_ key: ConfigKey, default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = text(key)?.lowercased() else { return value }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("\(key) \"\(text)\" is not true or false")
        }
    }

    /// A list: a JSON array of strings, or comma-separated text.
    func list(_ key: ConfigKey) -> [String]? {
        if let array = reader.stringArray(forKey: key) {
            return array.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return text(key).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    func integer(_ key: ConfigKey, default value: Int, range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = text(key) else { return value }
        guard let parsed = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(parsed) else {
            throw ConfigurationError("\(key) \"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return parsed
    }

    func number(_ key: ConfigKey, default value: Double, range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let text = text(key) else { return value }
        guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)), parsed.isFinite, range.contains(parsed) else {
            throw ConfigurationError("\(key) \"\(text)\" is not a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return parsed
    }
}
