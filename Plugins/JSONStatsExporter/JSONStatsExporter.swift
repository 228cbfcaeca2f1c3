public import Hummingbird
public import TetherRouting
public import TetherCore

/// `GET /v1/stats`: the relay's totals and one entry per client as JSON, for humans, the
/// dashboard and `tether status` (the seed's `get_connection_stats`, and more).
public struct JSONStatsExporter: MetricsExporter {
    public typealias Routes = TetherRouter

    public init() {}

    public func register(on routes: Routes, relay: Relay) {
        routes.get("/v1/stats") { request, _ -> Response in
            // Per-client detail (ids, addresses) is for subscribers' eyes only.
            try relay.gate.authorize(request.bearerToken, for: .subscribe)
            let body = try relay.stats().jsonBytes()
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }

    public static let plugin = PluginDescriptor<any MetricsExporter<Routes>>(
        name: "json",
        summary: "GET /v1/stats: totals and per-client state, quality, latency and lag as JSON"
    ) { _ in
        JSONStatsExporter()
    }
}
