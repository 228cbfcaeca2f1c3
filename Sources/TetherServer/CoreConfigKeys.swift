public import TetherCore

/// The keys the relay core and the server read, each declared once. Defaults are taken from the
/// configuration types themselves, so the docs cannot drift from the code.
public enum CoreConfigKeys {
    private static let relay = RelayConfiguration()
    private static let ingest = IngestLimits()
    private static let admission = AdmissionLimits()
    private static let server = ServerConfiguration()

    private static func show(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static let listen = ConfigKeySpec("listen", .text, default: "127.0.0.1:8765", "HOST:PORT to listen on; port 0 picks a free one (the log says which)", component: "server")
    static let store = ConfigKeySpec("store", .text, default: "sqlite", "buffer store plugin: sqlite (durable), memory (volatile) or postgres (shared); see `tether plugins`", component: "server")
    static let transports = ConfigKeySpec("transports", .list, default: "all compiled in", "transport plugins to enable (websocket, sse, socketio)", component: "server")
    static let exporters = ConfigKeySpec("exporters", .list, default: "all compiled in", "metrics exporter plugins to enable (prometheus, json)", component: "server")
    static let stateDir = ConfigKeySpec(
        "state-dir", .text, default: "$STATE_DIRECTORY, else ./tether-data", "directory for durable stores; sqlite keeps tether.sqlite there", component: "server"
    )
    static let retentionTTL = ConfigKeySpec("retention.ttl", .number(1...(86_400 * 365)), default: show(relay.retention.ttl), "seconds an event is retained")
    static let retentionMaxEvents = ConfigKeySpec("retention.max-events", .integer(1...1_000_000_000), default: "\(relay.retention.maxEvents)", "most events retained")
    static let retentionMaxBytes = ConfigKeySpec("retention.max-bytes", .integer(1024...Int.max), default: "\(relay.retention.maxBytes)", "most bytes retained")
    static let lagCap = ConfigKeySpec("lag-cap", .integer(1...10_000_000), default: "\(relay.lagCap)", "a client further behind gets only the newest this many, and a gap")
    static let window = ConfigKeySpec("window", .integer(1...65_536), default: "\(relay.window)", "unacked events in flight per connection")
    static let staleTimeout = ConfigKeySpec("stale-timeout", .number(1...86_400), default: show(relay.staleTimeout), "seconds of silence before a connection is stale")
    static let sweepInterval = ConfigKeySpec(
        "sweep-interval", .number(0.05...3600), default: show(relay.sweepInterval), "seconds between health sweeps (stale detection, cleanup, retention, store probe)"
    )
    static let maxEventBytes = ConfigKeySpec("limits.max-event-bytes", .integer(1...(64 << 20)), default: "\(ingest.maxEventBytes)", "largest event payload in bytes")
    static let maxBodyBytes = ConfigKeySpec("limits.max-body-bytes", .integer(1...(1 << 30)), default: "\(ingest.maxBodyBytes)", "largest publish request body in bytes")
    static let maxBatchEvents = ConfigKeySpec("limits.max-batch-events", .integer(1...1_000_000), default: "\(ingest.maxBatchEvents)", "most events per publish request")
    static let maxDepth = ConfigKeySpec("limits.max-depth", .integer(2...1024), default: "\(ingest.maxDepth)", "deepest JSON nesting accepted")
    static let idleTimeout = ConfigKeySpec(
        "limits.idle-timeout", .number(0.1...3600), default: show(server.idleTimeout), "seconds an HTTP connection may stay idle between requests", component: "server"
    )
    static let handshakeTimeout = ConfigKeySpec(
        "limits.handshake-timeout", .number(0.1...3600), default: show(server.handshakeTimeout),
        "seconds a new connection has to finish TLS and send its first request head (slowloris)", component: "server"
    )
    static let bodyTimeout = ConfigKeySpec(
        "limits.body-timeout", .number(0.1...86_400), default: show(server.bodyTimeout),
        "seconds a request has, after its head, to send its whole body; slower gets 408 body_timeout", component: "server"
    )
    static let maxConnections = ConfigKeySpec(
        "limits.max-connections", .integer(0...10_000_000), default: "\(admission.maxConnections)", "most subscriber connections open at once, 0 = no limit; past it 503 server_busy"
    )
    static let maxConnectionsPerAddress = ConfigKeySpec(
        "limits.max-connections-per-address", .integer(0...10_000_000), default: "\(admission.maxConnectionsPerAddress)",
        "most subscriber connections from one address, 0 = no limit; past it 429 too_many_connections"
    )
    static let maxPendingConnections = ConfigKeySpec(
        "limits.max-pending-connections", .integer(0...10_000_000), default: "\(admission.maxPendingConnections)",
        "most connections waiting to authenticate (a Socket.IO session before its CONNECT with a token), 0 = no limit"
    )
    static let maxPendingConnectionsPerAddress = ConfigKeySpec(
        "limits.max-pending-connections-per-address", .integer(0...10_000_000), default: "\(admission.maxPendingConnectionsPerAddress)",
        "most connections waiting to authenticate from one address, 0 = no limit"
    )
    static let pendingTimeout = ConfigKeySpec(
        "limits.pending-timeout", .number(0.1...3600), default: show(admission.pendingTimeout), "seconds a connection may wait to authenticate before it is closed"
    )
    static let publishRate = ConfigKeySpec(
        "limits.publish-rate", .number(0...1e9), default: show(admission.publishEventsPerSecond),
        "events per second one address may publish, 0 = no limit; past it 429 rate_limited with Retry-After"
    )
    static let publishBurst = ConfigKeySpec("limits.publish-burst", .number(1...1e9), default: show(admission.publishBurst), "events one address may publish in a burst")
    static let maxTopicsPerClient = ConfigKeySpec(
        "limits.max-topics-per-client", .integer(0...1_000_000), default: "\(admission.maxTopicsPerClient)", "most topics one subscription may name, 0 = no limit"
    )
    static let maxClientRecords = ConfigKeySpec(
        "limits.max-client-records", .integer(1...100_000_000), default: "\(admission.maxClientRecords)",
        "most client records kept; a new id past it evicts those disconnected longest first"
    )
    static let producerTokens = ConfigKeySpec(
        "auth.producer-tokens", .list, default: "none (open)", "bearer tokens allowed to publish (also $CREDENTIALS_DIRECTORY/producer-tokens, one per line)", secret: true
    )
    static let subscriberTokens = ConfigKeySpec(
        "auth.subscriber-tokens", .list, default: "none (open)", "bearer tokens allowed to subscribe (also $CREDENTIALS_DIRECTORY/subscriber-tokens)", secret: true
    )
    static let insecure = ConfigKeySpec("insecure", .flag, default: "false", "listen beyond loopback without tokens (not recommended)", component: "server")
    static let tlsCert = ConfigKeySpec("tls.cert", .text, default: "none", "PEM certificate chain file: serve HTTPS and WSS (with tls.key)", component: "server")
    static let tlsKey = ConfigKeySpec("tls.key", .text, default: "none", "PEM private key file for tls.cert", component: "server")
    static let allowedOrigins = ConfigKeySpec(
        "allowed-origins", .list, default: "none", "browser origins (scheme://host[:port]) allowed besides the relay's own, or *; others get 403", component: "server"
    )
    static let allowedHosts = ConfigKeySpec(
        "allowed-hosts", .list, default: "none",
        "names clients may use in Host besides loopback names and the listen address, or *; others get 421", component: "server"
    )
    static let logLevel = ConfigKeySpec(
        "log.level", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]), default: "info", "least severe log level written", component: "server"
    )

    /// The core's and the server's keys, in the order `--help` and the docs list them.
    public static let all: [ConfigKeySpec] = [
        listen, store, transports, exporters, stateDir, retentionTTL, retentionMaxEvents, retentionMaxBytes, lagCap, window, staleTimeout,
        sweepInterval, maxEventBytes, maxBodyBytes, maxBatchEvents, maxDepth, idleTimeout, handshakeTimeout, bodyTimeout, maxConnections,
        maxConnectionsPerAddress, maxPendingConnections, maxPendingConnectionsPerAddress, pendingTimeout, publishRate, publishBurst,
        maxTopicsPerClient, maxClientRecords, producerTokens, subscriberTokens, insecure, tlsCert, tlsKey, allowedOrigins, allowedHosts, logLevel,
    ]
}

extension PluginRegistry {
    /// Every key this build reads: the core's and the server's, then each compiled-in plugin's.
    public var allKeys: [ConfigKeySpec] {
        CoreConfigKeys.all + declaredKeys
    }
}
