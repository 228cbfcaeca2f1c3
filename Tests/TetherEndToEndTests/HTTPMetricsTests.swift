import Foundation
import Testing
import TetherTesting

/// The request metrics on `/metrics` count each request under the status the client got, and
/// only responses of 400 and more count as errors (a 5xx alert must not fire on client typos).
@Suite("HTTP request metrics of a running relay")
struct HTTPMetricsTests {
    /// The value of the `name` series whose labels include every one of `labels`, or nil.
    static func value(_ metrics: String, _ name: String, _ labels: [String: String]) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    static func series(_ metrics: String, _ name: String) -> [Substring] {
        metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") }
    }

    /// `/metrics` once it counts at least `requests` requests. A request is counted when its body
    /// has been written, which can be just after the client read the response: a scrape at once
    /// may not see it yet (polled for 10 s at most).
    static func scrape(_ relay: RelayProcess, counting requests: Int) async throws -> String {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let response = try await relay.http("GET", "/metrics")
            #expect(response.status == 200)
            let text = String(decoding: response.body, as: UTF8.self)
            let counted = text.split(separator: "\n").filter { $0.hasPrefix("hb_requests_total{") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            if counted >= Double(requests) || Date() > deadline { return text }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func promtoolPasses(_ relay: RelayProcess) async throws {
        let promtool = try #require(ExternalTool.find("promtool"), "promtool (Debian package prometheus) is needed; make test installs it")
        let metrics = try await relay.http("GET", "/metrics")
        let check = try await Command.run(promtool, ["check", "metrics"], input: metrics.body)
        #expect(check.status == 0 && check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool: \(check.output)")
    }

    @Test func successesAreCountedUnderTheirStatusAndAreNotErrors() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let published = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"t","data":1}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(published.status == 202)
        #expect(try await relay.http("GET", "/healthz").status == 200)
        let text = try await Self.scrape(relay, counting: 2)
        #expect(Self.value(text, "hb_requests_total", ["http_route": "/v1/events", "http_request_method": "POST", "http_response_status_code": "202"]) == 1)
        #expect(Self.value(text, "hb_requests_total", ["http_route": "/healthz", "http_response_status_code": "200"]) == 1)
        #expect(Self.series(text, "hb_request_errors_total").isEmpty, "no error series for 2xx: \(Self.series(text, "hb_request_errors_total"))")
        try await Self.promtoolPasses(relay)
        await relay.terminate()
    }

    @Test func clientErrorsAreCountedAsTheFourHundredsTheyWere() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let json = ["Content-Type": "application/json"]
        #expect(try await relay.http("POST", "/v1/events", body: Data("{not json".utf8), headers: json).status == 400)
        #expect(try await relay.http("POST", "/v1/events", body: Data("x".utf8), headers: ["Content-Type": "text/plain"]).status == 415)
        #expect(try await relay.http("GET", "/no/such/route").status == 404)
        let text = try await Self.scrape(relay, counting: 3)
        let route = ["http_route": "/v1/events", "http_request_method": "POST"]
        #expect(Self.value(text, "hb_requests_total", route.merging(["http_response_status_code": "400"]) { $1 }) == 1)
        #expect(Self.value(text, "hb_requests_total", route.merging(["http_response_status_code": "415"]) { $1 }) == 1)
        #expect(Self.value(text, "hb_request_errors_total", route.merging(["error_type": "400"]) { $1 }) == 1)
        #expect(Self.value(text, "hb_request_errors_total", route.merging(["error_type": "415"]) { $1 }) == 1)
        #expect(Self.value(text, "hb_requests_total", ["http_response_status_code": "404"]) == 1)
        #expect(!text.contains("http_response_status_code=\"500\""), "a client error was counted as a 500")
        #expect(!text.contains("error_type=\"500\""))
        try await Self.promtoolPasses(relay)
        await relay.terminate()
    }

    /// `store.sqlite.max-pages` makes the store refuse a large batch with 503, as a full disk would.
    @Test func serverErrorsAreCountedAsTheFiveHundredsTheyWere() async throws {
        let directory = try temporaryDirectory(prefix: "tether-metrics-full")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try await RelayProcess.start(
            arguments: ["--store", "sqlite", "--state-dir", directory.path],
            environment: ["TETHER_STORE_SQLITE_MAX_PAGES": "60"]
        )
        let pad = String(repeating: "z", count: 1000)
        let body = (0..<400).map { #"{"topic":"full","data":{"pad":"\#(pad)","i":\#($0)}}"# }.joined(separator: "\n")
        let refused = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        #expect(refused.status == 503)
        let text = try await Self.scrape(relay, counting: 1)
        let route = ["http_route": "/v1/events", "http_request_method": "POST"]
        #expect(Self.value(text, "hb_requests_total", route.merging(["http_response_status_code": "503"]) { $1 }) == 1)
        #expect(Self.value(text, "hb_request_errors_total", route.merging(["error_type": "503"]) { $1 }) == 1)
        #expect(!text.contains("http_response_status_code=\"500\""))
        try await Self.promtoolPasses(relay)
        await relay.terminate()
    }

    @Test func headIsAnsweredWhereverGetIs() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        for path in ["/healthz", "/readyz", "/metrics", "/v1/stats", "/v1/events?after=0", "/"] {
            let head = try await relay.http("HEAD", path)
            #expect(head.status == 200, "HEAD \(path)")
            #expect(head.body.isEmpty, "HEAD \(path) sent a body")
        }
        // HEAD of the event stream opens no stream: no client, no connection slot taken.
        #expect(try await relay.http("HEAD", "/v1/stream").status == 200)
        let stats = try #require(try HTTP.json(try await relay.http("GET", "/v1/stats").body) as? [String: Any])
        #expect((stats["clients"] as? [Any])?.isEmpty == true, "HEAD /v1/stream registered a client: \(stats)")
        let text = try await Self.scrape(relay, counting: 8)  // 7 HEADs and the GET of /v1/stats
        #expect(Self.value(text, "tether_connection_slots", ["pool": "authenticated"]) == 0)
        #expect(Self.value(text, "hb_requests_total", ["http_route": "/healthz", "http_request_method": "HEAD", "http_response_status_code": "200"]) == 1)
        await relay.terminate()
    }
}
