// swift-tools-version: 6.2
import Foundation
import PackageDescription

// Plugins are ordinary library targets under Plugins/<Name>. A plugin depends on TetherCore and its
// own backend only; the list of built-ins lives in TetherServer/BuiltinPlugins.swift.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// This build's version and commit, baked into the binary (TetherVersion, through the one C file of
// CTetherBuildInfo, so a new commit recompiles that file and relinks, nothing more). The version
// is written in one place, the VERSION file. The commit is $TETHER_COMMIT when set (the Makefile
// sets it with scripts/build-commit.sh: SwiftPM re-evaluates this manifest when the environment
// changes, not when HEAD moves), else the clone's HEAD (with -dirty for uncommitted changes), else
// "unknown" (a source tarball).
let buildVersion = (try? String(contentsOfFile: Context.packageDirectory + "/VERSION", encoding: .utf8))?
    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
let buildCommit = Context.environment["TETHER_COMMIT"].flatMap { $0.isEmpty ? nil : $0 }
    ?? Context.gitInformation.map { String($0.currentCommit.prefix(12)) + ($0.hasUncommittedChanges ? "-dirty" : "") }
    ?? "unknown"

let package = Package(
    name: "tether",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tether", targets: ["tether"]),
        .library(name: "TetherCore", targets: ["TetherCore"]),
        .library(name: "TetherTesting", targets: ["TetherTesting"]),
        .library(name: "TetherClient", targets: ["TetherClient"]),
        // The load generator for the comparison with Mosquitto and NATS JetStream (BENCHMARKS.md):
        // its MQTT and NATS clients live here, not in the relay binary.
        .executable(name: "tether-peer-bench", targets: ["tether-peer-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // TLS for `tether serve --tls-cert/--tls-key` and for `wss://` clients (postgres-nio
        // needs it already, so it adds no build time).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // YAML config files through swift-configuration's own YAMLSnapshot (trait YAML, over Yams).
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        // Yams directly too: the config file check needs each key's line for its errors.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "CTetherBuildInfo",
            cSettings: [
                .define("TETHER_BUILD_VERSION", to: "\"\(buildVersion)\""),
                .define("TETHER_BUILD_COMMIT", to: "\"\(buildCommit)\""),
            ]
        ),
        .target(
            name: "TetherCore",
            dependencies: [
                "CTetherBuildInfo",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MemoryStore",
            dependencies: [
                "TetherCore",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Plugins/MemoryStore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherRouting",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresStore",
            dependencies: [
                "TetherCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Plugins/PostgresStore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PrometheusExporter",
            dependencies: [
                "TetherCore",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Plugins/PrometheusExporter",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SSETransport",
            dependencies: [
                "TetherCore",
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            path: "Plugins/SSETransport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SocketIOTransport",
            dependencies: [
                "TetherCore",
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Plugins/SocketIOTransport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JSONStatsExporter",
            dependencies: [
                "TetherCore",
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Plugins/JSONStatsExporter",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SQLiteStore",
            dependencies: [
                "TetherCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                // For ConfigReader, which PluginContext hands every plugin.
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            path: "Plugins/SQLiteStore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WebSocketTransport",
            dependencies: [
                "TetherCore",
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Plugins/WebSocketTransport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherClient",
            dependencies: [
                "TetherCore",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The browser dashboard: Dashboard/ holds the page, its ES modules and CSS (shipped as
        // resources, no build step) and the one Swift file that serves them.
        .target(
            name: "TetherDashboard",
            dependencies: [
                "TetherRouting",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Dashboard",
            sources: ["DashboardRoutes.swift"],
            resources: [.copy("index.html"), .copy("js"), .copy("css")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherServer",
            dependencies: [
                "TetherCore",
                "TetherDashboard",
                "MemoryStore",
                "PostgresStore",
                "PrometheusExporter",
                "JSONStatsExporter",
                "SSETransport",
                "SocketIOTransport",
                "TetherRouting",
                "SQLiteStore",
                "WebSocketTransport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                // Serving a socket-activated (inherited) listener needs NIO's bootstrap directly.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // libsystemd (sd-daemon, sd-journal) through pkg-config; Debian: libsystemd-dev.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "TetherSystemd",
            dependencies: [
                "TetherCore",
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether",
            dependencies: [
                "TetherServer",
                "TetherCore",
                "TetherClient",
                "TetherSystemd",
                "MemoryStore",
                "SQLiteStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Metrics", package: "swift-metrics"),
                "PrometheusExporter",
                "SocketIOTransport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherTesting",
            dependencies: [
                "TetherCore", "MemoryStore", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-store-bench",
            dependencies: ["TetherCore", "MemoryStore", "SQLiteStore"],
            path: "Benchmarks/StoreThroughput",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-metrics-bench",
            dependencies: ["TetherCore", "MemoryStore", "PrometheusExporter", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/MetricsScrape",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-core-bench",
            dependencies: ["TetherCore", "MemoryStore", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/CoreFanout",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-peer-bench",
            dependencies: [
                "TetherTesting",
                "TetherCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/PeerBench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-postgres-bench",
            dependencies: [
                "TetherCore", "PostgresStore", "TetherTesting", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/PostgresStore",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherCoreTests",
            dependencies: [
                "TetherCore", "TetherTesting", "MemoryStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MemoryStoreTests",
            dependencies: ["TetherCore", "MemoryStore", "TetherTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["PostgresStore", "TetherTesting", "TetherCore", "TetherClient"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PrometheusExporterTests",
            dependencies: ["TetherCore", .product(name: "Logging", package: "swift-log"), "PrometheusExporter", "TetherTesting", "MemoryStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherServerTests",
            dependencies: ["TetherCore", "TetherServer", "TetherRouting", .product(name: "Configuration", package: "swift-configuration")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SSETransportTests",
            dependencies: ["TetherTesting", "SSETransport", "TetherCore", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SQLiteStoreTests",
            dependencies: [
                "SQLiteStore", "TetherCore", "TetherTesting", "MemoryStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WebSocketTransportTests",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                "TetherTesting", "TetherClient", "TetherCore", "WebSocketTransport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherClientTests",
            dependencies: ["TetherClient", "TetherCore", "TetherTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherSystemdTests",
            dependencies: [.product(name: "Logging", package: "swift-log"), "TetherSystemd", "TetherTesting", "TetherCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SocketIOTransportTests",
            dependencies: ["TetherTesting", "SocketIOTransport", "TetherCore"],
            exclude: ["clients"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: ["TetherTesting", "TetherCore"],
            exclude: ["browser"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherEndToEndTests",
            dependencies: ["TetherTesting", "TetherClient", .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: swiftSettings
        ),
    ]
)
