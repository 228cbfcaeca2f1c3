import Foundation
import Logging
import MemoryStore
import PrometheusExporter
import Testing
import TetherCore
import TetherTesting

/// The exposition after real relay traffic, checked by the real `promtool`.
@Suite struct PrometheusExporterTests {
    /// Drives connects, publishes, deliveries, acks, a ping, a resume with a gap and a stale
    /// client through an in-process relay, and returns it with the number of events published.
    static func relayAfterTraffic() async throws -> (Relay, published: Int) {
        let clock = TestClock(Date())
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(ttl: 300, maxEvents: 50, maxBytes: 1 << 30)
        configuration.lagCap = 1000
        let relay = Relay(store: MemoryBufferStore(configuration: .init(retention: configuration.retention)), configuration: configuration, now: clock.source)
        try await relay.start()
        let live = try await relay.subscribe(Hello(clientID: "cid-live-7f3a"), transport: "websocket", remote: "127.0.0.1:1")
        let leaver = try await relay.subscribe(Hello(clientID: "cid-leaver-9b2c"), transport: "sse", remote: "127.0.0.1:2")
        let token = try #require(leaver.welcome.resumeToken)
        leaver.close(reason: "test")
        var published = 0
        for batch in 0..<10 {
            published += try await relay.publish((0..<10).map { EventDraft(topic: "t", data: Array("{\"b\":\(batch),\"n\":\($0)}".utf8), time: clock.now) }).count
            var buffer: [Event] = []
            while buffer.last?.seq ?? 0 < relay.logState.head {
                _ = try await live.next(into: &buffer, within: 30)
            }
            try live.ack(buffer.last!.seq)
        }
        live.recordPing(roundTrip: 0.012)
        // 100 published with a cap of 50: the leaver's resume from 0 has an `evicted` gap.
        let resumed = try await relay.subscribe(Hello(clientID: "cid-leaver-9b2c", resumeToken: token, lastSequence: 0), transport: "sse", remote: "127.0.0.1:3")
        #expect(resumed.welcome.plan.gap?.reason == .evicted)
        clock.advance(by: 120)
        await relay.sweep()  // both go stale; quality and lag are sampled
        return (relay, published)
    }

    @Test func expositionPassesPromtoolWithoutLintAfterRealTraffic() async throws {
        let promtool = try #require(ExternalTool.find("promtool"), "promtool (Debian package prometheus) is needed; make test installs it")
        let (relay, _) = try await Self.relayAfterTraffic()
        let text = PrometheusExporter(logger: Logger(label: "test")).render(relay)
        let check = try await Command.run(promtool, ["check", "metrics"], input: Data(text.utf8))
        #expect(check.status == 0, "promtool: \(check.output)\n\(text)")
        #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "lint findings: \(check.output)")
    }

    @Test func valuesMatchWhatHappened() async throws {
        let (relay, published) = try await Self.relayAfterTraffic()
        let samples = try PrometheusSamples(PrometheusExporter(logger: Logger(label: "test")).render(relay))
        #expect(samples["tether_events_published_total"] == Double(published))
        #expect(samples["tether_head_sequence"] == 100)
        #expect(samples["tether_buffer_depth_events"] == 50)
        #expect(samples["tether_events_delivered_total"] == 100)
        #expect(samples["tether_events_acked_total"] == 100)
        #expect(samples["tether_events_dropped_total{reason=\"evicted\"}"] == 50)
        #expect(samples["tether_reconnects_total"] == 1)
        #expect(samples["tether_connections{state=\"stale\",transport=\"sse\"}"] == 1)
        #expect(samples["tether_connections{state=\"stale\",transport=\"websocket\"}"] == 1)
        #expect(samples["tether_ping_rtt_seconds_count"] == 1)
        #expect(samples["tether_ping_rtt_seconds_bucket{le=\"0.025\"}"] == 1)
        #expect(samples["tether_ping_rtt_seconds_bucket{le=\"0.01\"}"] == 0)
        #expect(samples["tether_delivery_latency_seconds_count"] == 100)
        #expect(samples["tether_connection_quality_count"] == 2)
        #expect(samples["tether_client_lag_events_count"] == 2)
        #expect(samples["tether_collector_up{collector=\"process\"}"] == 1)
        #expect((samples["process_resident_memory_bytes"] ?? 0) > 1_000_000)
        #expect((samples["process_open_fds"] ?? 0) > 2)
        #expect(samples["tether_build_info{version=\"\(TetherVersion.string)\",commit=\"\(TetherVersion.commit)\"}"] == 1)
    }

    @Test func noLabelCarriesAClientID() async throws {
        let (relay, _) = try await Self.relayAfterTraffic()
        let text = PrometheusExporter(logger: Logger(label: "test")).render(relay)
        #expect(!text.contains("cid-live-7f3a") && !text.contains("cid-leaver-9b2c"))
    }
}

/// Parses exposition text into `series → value` (series as written, labels included).
struct PrometheusSamples {
    var values: [String: Double] = [:]

    init(_ text: String) throws {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
    }

    subscript(_ series: String) -> Double? { values[series] }
}
