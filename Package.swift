// swift-tools-version: 6.2
import PackageDescription

// Plugins are ordinary library targets under Plugins/<Name>. A plugin depends on TetherCore and its
// own backend only; the list of built-ins lives in TetherServer/BuiltinPlugins.swift.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tether",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tether", targets: ["tether"]),
        .library(name: "TetherCore", targets: ["TetherCore"]),
        .library(name: "TetherTesting", targets: ["TetherTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "TetherCore",
            dependencies: [
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
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Plugins/PrometheusExporter",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JSONStatsExporter",
            dependencies: [
                "TetherCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            path: "Plugins/JSONStatsExporter",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherServer",
            dependencies: [
                "TetherCore",
                "MemoryStore",
                "PostgresStore",
                "PrometheusExporter",
                "JSONStatsExporter",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether",
            dependencies: [
                "TetherServer",
                "TetherCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Metrics", package: "swift-metrics"),
                "PrometheusExporter",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TetherTesting",
            dependencies: ["TetherCore", "MemoryStore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-core-bench",
            dependencies: ["TetherCore", "MemoryStore", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/CoreFanout",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tether-postgres-bench",
            dependencies: ["TetherCore", "PostgresStore", "TetherTesting", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/PostgresStore",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherCoreTests",
            dependencies: ["TetherCore", "TetherTesting", "MemoryStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MemoryStoreTests",
            dependencies: ["MemoryStore", "TetherTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["PostgresStore", "TetherTesting", "TetherCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PrometheusExporterTests",
            dependencies: ["PrometheusExporter", "TetherTesting", "MemoryStore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TetherEndToEndTests",
            dependencies: ["TetherTesting"],
            swiftSettings: swiftSettings
        ),
    ]
)
