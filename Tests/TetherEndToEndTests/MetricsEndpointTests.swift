import Foundation
import Testing
import TetherTesting

/// `/metrics` and `/v1/stats` of the running relay, and a real Prometheus scraping it.
@Suite("Metrics endpoints of a running relay")
struct MetricsEndpointTests {
    static func publish(_ relay: RelayProcess, count: Int) async throws {
        let body = (0..<count).map { #"{"topic":"m","data":{"n":\#($0)}}"# }.joined(separator: "\n")
        let response = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        #expect(response.status == 202)
    }

    @Test func metricsArePromtoolCleanAndCountWhatWasPublished() async throws {
        let promtool = try #require(ExternalTool.find("promtool"), "promtool (Debian package prometheus) is needed; make test installs it")
        let relay = try await RelayProcess.start()
        try await Self.publish(relay, count: 37)
        _ = try await relay.http("GET", "/v1/events?after=0")
        let metrics = try await relay.http("GET", "/metrics")
        #expect(metrics.status == 200)
        let text = String(decoding: metrics.body, as: UTF8.self)
        let check = try await Command.run(promtool, ["check", "metrics"], input: metrics.body)
        #expect(check.status == 0, "promtool: \(check.output)")
        #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "lint findings: \(check.output)")
        #expect(text.contains("\ntether_events_published_total 37\n"))
        #expect(text.contains("\ntether_head_sequence 37\n"))
        // Hummingbird's request metrics come through swift-metrics, with HELP and Prometheus names.
        #expect(text.contains("# TYPE hb_requests_total counter"))
        #expect(text.contains("http_server_request_duration_seconds_bucket"))
        await relay.terminate()
    }

    @Test func statsReportTotalsAsJSON() async throws {
        let relay = try await RelayProcess.start()
        try await Self.publish(relay, count: 5)
        let stats = try await relay.http("GET", "/v1/stats")
        #expect(stats.status == 200)
        let object = try #require(try HTTP.json(stats.body) as? [String: Any])
        let totals = try #require(object["totals"] as? [String: Any])
        #expect(totals["published"] as? Int == 5)
        #expect(totals["head_sequence"] as? Int == 5)
        #expect(totals["buffer_depth_events"] as? Int == 5)
        #expect((totals["epoch"] as? String)?.count == 16)
        #expect((object["clients"] as? [Any])?.isEmpty == true)
        await relay.terminate()
    }

    @Test func onlyTheConfiguredExportersAreServed() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_EXPORTERS": "json"])
        #expect(try await relay.http("GET", "/metrics").status == 404)
        #expect(try await relay.http("GET", "/v1/stats").status == 200)
        await relay.terminate()
    }

    /// A real Prometheus on 127.0.0.1 scrapes the relay; its query API sees the head sequence and
    /// computes a histogram quantile from the relay's buckets.
    @Test(.timeLimit(.minutes(2)))
    func aRealPrometheusScrapesTheRelay() async throws {
        let prometheus = try #require(ExternalTool.find("prometheus"), "prometheus (Debian package) is needed; make test installs it")
        let relay = try await RelayProcess.start()
        try await Self.publish(relay, count: 21)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tether-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: tether
                static_configs:
                  - targets: ['127.0.0.1:\(relay.port)']
            """
        try Data(config.utf8).write(to: directory.appendingPathComponent("prometheus.yml"))
        let port = try FreePort.next()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: prometheus)
        server.arguments = [
            "--config.file=\(directory.path)/prometheus.yml", "--storage.tsdb.path=\(directory.path)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }

        func query(_ expression: String) async throws -> Double? {
            let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
            guard let response = try? await HTTP.request("GET", "http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)"),
                response.status == 200,
                let object = try HTTP.json(response.body) as? [String: Any],
                let data = object["data"] as? [String: Any],
                let result = (data["result"] as? [[String: Any]])?.first,
                let value = result["value"] as? [Any], let text = value.last as? String
            else { return nil }
            return Double(text)
        }
        var head: Double?
        var quantile: Double?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, head == nil || quantile == nil {
            head = try await query("tether_head_sequence")
            quantile = try await query("histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket))")
            if head == nil || quantile == nil { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(head == 21)
        let median = try #require(quantile, "Prometheus never returned a quantile")
        #expect(median > 0 && median < 5)
        await relay.terminate()
    }
}
