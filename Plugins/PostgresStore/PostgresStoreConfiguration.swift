public import TetherCore
import Foundation
import PostgresNIO

extension PostgresBufferStore {
    /// Where the shared log lives and how the store talks to it. Built from the `store.postgres.*`
    /// keys by ``PostgresBufferStore/plugin``.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// A directory holding PostgreSQL's unix socket, used instead of `host` when set.
        public var socketDirectory: String?
        public var user: String
        public var password: String?
        public var database: String
        /// Most connections in the pool (appends, reads, trims and client records share it).
        public var poolSize: Int
        /// Longest any one operation may take before it fails (and a producer hears 503).
        public var operationTimeout: Duration
        /// Retention: TTL and caps, as for every store.
        public var retention: RetentionPolicy
        /// Events removed per retention transaction, and most transactions per trim call.
        public var trimChunk: Int
        public var trimChunksPerCall: Int

        public init(
            host: String = "127.0.0.1", port: Int = 5432, socketDirectory: String? = nil, user: String = "tether",
            password: String? = nil, database: String = "tether", poolSize: Int = 8,
            operationTimeout: Duration = .seconds(5), retention: RetentionPolicy = RetentionPolicy(),
            trimChunk: Int = 5000, trimChunksPerCall: Int = 8
        ) {
            self.host = host
            self.port = port
            self.socketDirectory = socketDirectory
            self.user = user
            self.password = password
            self.database = database
            self.poolSize = poolSize
            self.operationTimeout = operationTimeout
            self.retention = retention
            self.trimChunk = trimChunk
            self.trimChunksPerCall = trimChunksPerCall
        }

        /// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (`?host=/socket/dir` for a unix
        /// socket). A password in the URL is accepted, but a password file keeps it out of `ps`.
        ///
        /// - Throws: ``PostgresStoreError/Code/configuration`` naming what is wrong.
        public init(url: String, retention: RetentionPolicy = RetentionPolicy()) throws {
            guard let components = URLComponents(string: url),
                components.scheme == "postgres" || components.scheme == "postgresql"
            else {
                throw PostgresStoreError(.configuration, "store.postgres.url \"\(url)\" is not a postgres://USER@HOST:PORT/DATABASE URL")
            }
            self.init(retention: retention)
            if let user = components.user, !user.isEmpty { self.user = user.removingPercentEncoding ?? user }
            password = components.password?.removingPercentEncoding
            if let host = components.host, !host.isEmpty { self.host = host }
            if let port = components.port { self.port = port }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            if !path.isEmpty { database = path }
            if let socket = components.queryItems?.first(where: { $0.name == "host" })?.value, socket.hasPrefix("/") {
                socketDirectory = socket
            }
        }

        var connectionConfiguration: PostgresConnection.Configuration {
            if let socketDirectory {
                return PostgresConnection.Configuration(
                    unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database
                )
            }
            return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }

        var clientConfiguration: PostgresClient.Configuration {
            var configuration: PostgresClient.Configuration
            if let socketDirectory {
                configuration = PostgresClient.Configuration(
                    unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database
                )
            } else {
                configuration = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
            }
            configuration.options.maximumConnections = poolSize
            configuration.options.connectTimeout = operationTimeout
            configuration.options.keepAliveBehavior = .init(frequency: .seconds(15))
            configuration.options.additionalStartupParameters = serverTimeouts
            return configuration
        }

        /// Server-side bounds for what ``withTimeout(_:operation:_:)`` leaves running: a statement
        /// may take twice the operation timeout, and a session idle inside a transaction (a
        /// connection lost mid-transaction on our side) is ended after 30 s, releasing its locks.
        var serverTimeouts: [(String, String)] {
            let milliseconds = operationTimeout.components.seconds * 1000 + operationTimeout.components.attoseconds / 1_000_000_000_000_000
            return [
                ("statement_timeout", "\(max(1000, 2 * milliseconds))"),
                ("idle_in_transaction_session_timeout", "30000"),
            ]
        }

        /// Where the store connects, for log lines (never the password).
        var endpoint: String {
            "\(user)@\(socketDirectory.map { "\($0)/.s.PGSQL.\(port)" } ?? "\(host):\(port)")/\(database)"
        }
    }
}

extension PostgresBufferStore {
    static let urlKey = ConfigKeySpec(
        "url", .text, default: "none (required)", "postgres://USER@HOST:PORT/DATABASE; ?host=/run/postgresql for a unix socket", secret: true
    )
    static let passwordFileKey = ConfigKeySpec(
        "password-file", .text, default: "$CREDENTIALS_DIRECTORY/postgres-password if present", "file holding the database password"
    )
    static let poolSizeKey = ConfigKeySpec("pool-size", .integer(1...1000), default: "8", "most database connections per relay, plus one for LISTEN")
    static let timeoutKey = ConfigKeySpec("timeout", .number(0.001...3600), default: "5", "seconds one database operation may take before it fails")

    /// The keys under `store.postgres`.
    public static let keys = [urlKey, passwordFileKey, poolSizeKey, timeoutKey]

    /// The registry entry: `--store postgres`, configured under `store.postgres.*`:
    /// - `url`: `postgres://USER@HOST:PORT/DATABASE` (required);
    /// - `password-file`: a file holding the password (else `$CREDENTIALS_DIRECTORY/postgres-password`
    ///   when systemd passed credentials, else the URL's password, else none);
    /// - `pool-size`: most connections (default 8);
    /// - `timeout`: seconds any one operation may take (default 5).
    public static let plugin = PluginDescriptor<any BufferStore>(
        name: "postgres",
        summary: "PostgreSQL: one log shared by several relays (LISTEN/NOTIFY fan-out, resume on any relay)",
        keys: keys
    ) { context in
        let environment = ProcessInfo.processInfo.environment
        guard let url = try context.settings.text(urlKey) else {
            throw PostgresStoreError(.configuration, "store.postgres.url is not set (TETHER_STORE_POSTGRES_URL, e.g. postgres://tether@127.0.0.1:5432/tether)")
        }
        var configuration = try Configuration(url: url, retention: context.retention)
        let passwordFile = try context.settings.text(passwordFileKey)
            ?? environment["CREDENTIALS_DIRECTORY"].map { "\($0)/postgres-password" }.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw PostgresStoreError(.configuration, "store.postgres.password-file \(passwordFile) cannot be read")
            }
            configuration.password = text.trimmingCharacters(in: .newlines)
        }
        if let size = try context.settings.integer(poolSizeKey) { configuration.poolSize = size }
        if let seconds = try context.settings.number(timeoutKey) { configuration.operationTimeout = .milliseconds(Int64(seconds * 1000)) }
        return PostgresBufferStore(configuration: configuration, logger: context.logger)
    }
}
