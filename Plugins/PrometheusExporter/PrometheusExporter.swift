public import Hummingbird
public import TetherRouting
public import TetherCore
import CoreMetrics
import Foundation
public import Logging

/// `GET /metrics`: Prometheus text exposition of the relay (`tether_*`), the process
/// (`process_*`) and the libraries that record through swift-metrics (Hummingbird's `hb_*` and
/// `http_server_*`, when the executable bootstrapped ``LibraryMetricsFactory``).
///
/// Tether's series are rendered from atomics and snapshots at scrape time: publishing never
/// waits on a metrics lock. No label carries a client id or another unbounded value; per-client
/// detail is in `/v1/stats`. A collector that fails (e.g. `/proc` unreadable) is reported as
/// `tether_collector_up{collector} 0` and logged; the scrape itself still succeeds.
public struct PrometheusExporter: MetricsExporter {
    public typealias Routes = TetherRouter
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func register(on routes: Routes, relay: Relay) {
        routes.get("/metrics") { _, _ -> Response in
            var bytes = Array(render(relay).utf8)
            if let library = MetricsSystem.factory as? LibraryMetricsFactory {
                library.registry.emit(into: &bytes)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }

    /// The `tether_*` and `process_*` series as text.
    public func render(_ relay: Relay) -> String {
        var w = PrometheusTextWriter()
        let log = relay.logState
        let c = relay.counters
        let h = relay.histograms

        w.family("tether_build_info", type: "gauge", help: "Always 1; labelled with the version and git commit of this build (as `tether version` prints them).")
        w.sample("tether_build_info", [("version", TetherVersion.string), ("commit", TetherVersion.commit)], 1)
        w.gauge("tether_head_sequence", help: "Newest sequence number assigned in the current epoch.", Double(log.head))
        w.gauge("tether_oldest_sequence", help: "Oldest sequence number still retained in the log.", Double(log.oldest))
        w.gauge("tether_buffer_depth_events", help: "Events retained in the log.", Double(log.depthEvents))
        w.gauge("tether_buffer_depth_bytes", help: "Bytes retained in the log (payload, topic, id and a fixed per-event overhead).", Double(log.depthBytes))

        w.family("tether_connections", type: "gauge", help: "Known clients by connection state and transport.")
        for entry in relay.connectionCounts() {
            w.sample("tether_connections", [("state", entry.state.rawValue), ("transport", entry.transport)], Double(entry.count))
        }
        w.family("tether_connection_slots", type: "gauge", help: "Connection slots taken, by pool: authenticated (limits.max-connections) and pending, waiting to authenticate (limits.max-pending-connections).")
        w.sample("tether_connection_slots", [("pool", "authenticated")], Double(relay.connections.open()))
        w.sample("tether_connection_slots", [("pool", "pending")], Double(relay.connections.pending()))

        w.counter("tether_events_published_total", help: "Events accepted into the log (idempotent retries not counted).", c.published.load(ordering: .relaxed))
        w.counter("tether_events_duplicate_total", help: "Publishes with a producer id already in the log, answered with the original sequence.", c.duplicatesSuppressed.load(ordering: .relaxed))
        w.counter("tether_events_delivered_total", help: "Events sent to subscribers (one per subscriber per event).", c.delivered.load(ordering: .relaxed))
        w.counter("tether_events_acked_total", help: "Delivered events that subscribers acknowledged.", c.acked.load(ordering: .relaxed))
        w.counter("tether_events_replayed_total", help: "Events owed to resuming subscribers at the moment they resumed.", c.replayed.load(ordering: .relaxed))
        w.counter("tether_events_expired_total", help: "Events removed from the log by the retention TTL.", c.expired.load(ordering: .relaxed))
        w.counter("tether_events_evicted_total", help: "Events removed from the log by its count or byte cap.", c.evicted.load(ordering: .relaxed))
        w.family("tether_events_dropped_total", type: "counter", help: "Sequence numbers subscribers were owed but skipped in a declared gap, by reason.")
        for reason in GapReason.allCases {
            w.sample("tether_events_dropped_total", [("reason", reason.rawValue)], Double(c.dropped(reason)))
        }
        w.counter("tether_reconnects_total", help: "Known clients that connected again (resumes).", c.reconnects.load(ordering: .relaxed))
        w.counter("tether_resume_refused_total", help: "Resumes refused because the client id's resume secret was missing or wrong.", c.resumeRefused.load(ordering: .relaxed))
        w.counter("tether_client_records_evicted_total", help: "Disconnected client records evicted before their TTL because limits.max-client-records was reached.", c.clientRecordsEvicted.load(ordering: .relaxed))
        w.family("tether_refused_total", type: "counter", help: "Requests, frames and connections refused, by reason (the error code: malformed, too_large, rate_limited, too_many_connections, server_busy, too_many_topics, ...).")
        for (reason, count) in c.refused.sorted(by: { $0.key < $1.key }) {
            w.sample("tether_refused_total", [("reason", reason)], Double(count))
        }
        w.counter("tether_watchdog_pings_total", help: "WATCHDOG=1 notifications sent to systemd, each after a fresh health proof.", c.watchdogPings.load(ordering: .relaxed))

        let proofAge = relay.healthStatus.lastProof.map { Date().timeIntervalSince($0) } ?? -1
        w.gauge("tether_health_proof_age_seconds", help: "Seconds since the health monitor last proved the core and store responsive (-1: never).", proofAge)

        w.histogram("tether_connection_quality", help: "Connection quality scores in [0, 1], sampled for every connected client at each health sweep.", h.quality.snapshot())
        w.histogram("tether_ping_rtt_seconds", help: "Ping round-trip times measured on client connections.", h.pingRTT.snapshot())
        w.histogram("tether_delivery_latency_seconds", help: "Time from publish to the subscriber's acknowledgement, per acknowledged event.", h.deliveryLatency.snapshot())
        w.histogram("tether_client_lag_events", help: "Events between a connected client's acknowledged cursor and the head, sampled at each health sweep.", h.clientLag.snapshot())

        w.family("tether_collector_up", type: "gauge", help: "1 if the collector produced its metrics at this scrape, 0 if it failed (see the log).")
        do {
            let process = try ProcessMetrics.read()
            w.sample("tether_collector_up", [("collector", "process")], 1)
            process.write(into: &w)
        } catch {
            w.sample("tether_collector_up", [("collector", "process")], 0)
            logger.warning("process metrics collector failed; process_* series are missing from this scrape", metadata: ["error": "\(error)"])
        }
        return w.text
    }

    public static let plugin = PluginDescriptor<any MetricsExporter<Routes>>(
        name: "prometheus",
        summary: "GET /metrics: Prometheus text exposition (tether_*, process_*, library metrics)"
    ) { context in
        PrometheusExporter(logger: context.logger)
    }
}
