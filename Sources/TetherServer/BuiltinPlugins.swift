public import TetherRouting
public import TetherCore
import JSONStatsExporter
import MemoryStore
import PrometheusExporter
import SSETransport
import SocketIOTransport

extension PluginRegistry where Routes == TetherRouter {
    /// Every plugin compiled into `tether`. Adding a plugin is one line here.
    public static var builtins: PluginRegistry<TetherRouter> {
        PluginRegistry(
            stores: [
                MemoryBufferStore.plugin,
            ],
            transports: [
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
