public import TetherRouting
public import TetherCore
import JSONStatsExporter
import MemoryStore
import PostgresStore
import PrometheusExporter
import SQLiteStore
import SSETransport
import WebSocketTransport
import SocketIOTransport

extension PluginRegistry where Routes == TetherRouter {
    /// Every plugin compiled into `tether`. Adding a plugin is one line here.
    public static var builtins: PluginRegistry<TetherRouter> {
        PluginRegistry(
            stores: [
                SQLiteBufferStore.plugin,
                MemoryBufferStore.plugin,
                PostgresBufferStore.plugin,
            ],
            transports: [
                WebSocketTransport.plugin,
                SSETransport.plugin,
                SocketIOTransport.plugin,
            ],
            exporters: [
                PrometheusExporter.plugin,
                JSONStatsExporter.plugin,
            ]
        )
    }
}
