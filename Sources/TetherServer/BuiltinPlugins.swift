public import Hummingbird
public import HummingbirdWebSocket
public import TetherCore
import JSONStatsExporter
import MemoryStore
import PostgresStore
import PrometheusExporter

/// The router every HTTP-facing plugin registers on. Its context supports WebSocket upgrades,
/// so one router serves plain routes and WebSocket endpoints alike.
public typealias TetherRouter = Router<BasicWebSocketRequestContext>

extension PluginRegistry where Routes == TetherRouter {
    /// Every plugin compiled into `tether`. Adding a plugin is one line here.
    public static var builtins: PluginRegistry<TetherRouter> {
        PluginRegistry(
            stores: [
                MemoryBufferStore.plugin,
                PostgresBufferStore.plugin,
            ],
            transports: [],
            exporters: [
                PrometheusExporter.plugin,
                JSONStatsExporter.plugin,
            ]
        )
    }
}
