import Foundation
import Testing
import TetherTesting

/// Browser `Origin` checks on a running relay: pages from other sites are refused on every
/// transport before anything runs, the relay's own pages (the dashboard) and non-browser clients
/// pass, and origins in `allowed-origins` get CORS answers.
@Suite("Origin allow-list")
struct OriginTests {
    static let evil = "https://evil.example"

    static func request(_ port: Int, _ method: String, _ path: String, headers: [String] = [], body: String? = nil) async throws -> (status: Int, head: String, body: String) {
        let connection = try RawTCPConnection(port: port)
        defer { connection.close() }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for header in headers { request += header + "\r\n" }
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        try await connection.send(request)
        let response = await connection.readHTTPResponse(timeout: path.hasPrefix("/v1/stream") ? 3 : 10)
        return (response.status, response.head, response.body)
    }

    @Test func pagesFromOtherSitesAreRefusedOnEveryTransport() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let port = relay.port
        let foreign = "Origin: \(Self.evil)"

        // A cross-site POST (what a page can send without CORS) stores nothing.
        let publish = try await Self.request(port, "POST", "/v1/events", headers: [foreign], body: #"{"topic":"csrf","data":1}"#)
        #expect(publish.status == 403)
        #expect(publish.body.contains(#""code":"origin_not_allowed""#) && publish.body.contains("allowed-origins"), "\(publish.body)")
        #expect(String(decoding: try await relay.http("GET", "/v1/events?after=0").body, as: UTF8.self).contains(#""events":[]"#))
        // Reading: stats, SSE, Socket.IO polling, and the WebSocket upgrade.
        #expect(try await Self.request(port, "GET", "/v1/stats", headers: [foreign]).status == 403)
        #expect(try await Self.request(port, "GET", "/v1/stream", headers: [foreign]).status == 403)
        #expect(try await Self.request(port, "GET", "/socket.io/?EIO=4&transport=polling", headers: [foreign]).status == 403)
        let socket = try RawTCPConnection(port: port)
        try await socket.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port, extraHeaders: foreign + "\r\n"))
        let upgrade = await socket.readHTTPResponse()
        #expect(upgrade.status != 101 && upgrade.status != 0, "\(upgrade.head)")
        socket.close()
        // A sandboxed page or a file sends "null": refused too.
        #expect(try await Self.request(port, "GET", "/v1/stats", headers: ["Origin: null"]).status == 403)

        // The relay's own origin (the dashboard) and clients without Origin pass.
        let own = "Origin: http://127.0.0.1:\(port)"
        let ownStats = try await Self.request(port, "GET", "/v1/stats", headers: [own])
        #expect(ownStats.status == 200)
        #expect(!ownStats.head.lowercased().contains("access-control-allow-origin"))
        let ownSocket = try RawTCPConnection(port: port)
        try await ownSocket.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port, extraHeaders: own + "\r\n"))
        #expect(await ownSocket.readHTTPResponse().status == 101)
        ownSocket.close()
        #expect(try await Self.request(port, "POST", "/v1/events", body: #"{"topic":"ok","data":1}"#).status == 202)

        // Counted by reason and logged once a minute, not per request.
        let metrics = String(decoding: try await relay.http("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"tether_refused_total{reason="origin_not_allowed"} 6"#), "\(metrics.split(separator: "\n").filter { $0.contains("refused") })")
        #expect(await relay.terminate() == 0)
        #expect(relay.log.components(separatedBy: "refused origin_not_allowed").count == 2, "\(relay.log)")
    }

    @Test func listedOriginsGetCORSAnswers() async throws {
        let dashboard = "https://dash.example.com"
        let relay = try await RelayProcess.start(arguments: ["--store", "memory", "--allowed-origins", dashboard + ", http://tools.internal:8080"])
        let port = relay.port
        let stats = try await Self.request(port, "GET", "/v1/stats", headers: ["Origin: \(dashboard)"])
        #expect(stats.status == 200)
        #expect(stats.head.lowercased().contains("access-control-allow-origin: \(dashboard)"), "\(stats.head)")
        #expect(stats.head.lowercased().contains("vary: origin"))
        // The browser's preflight for a JSON POST with a token.
        let preflight = try await Self.request(port, "OPTIONS", "/v1/events", headers: [
            "Origin: \(dashboard)", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type",
        ])
        #expect(preflight.status == 204)
        #expect(preflight.head.lowercased().contains("access-control-allow-methods: get, post, options"), "\(preflight.head)")
        #expect(preflight.head.lowercased().contains("authorization"))
        let publish = try await Self.request(port, "POST", "/v1/events", headers: ["Origin: http://tools.internal:8080"], body: #"{"topic":"t","data":1}"#)
        #expect(publish.status == 202)
        #expect(publish.head.lowercased().contains("access-control-allow-origin: http://tools.internal:8080"))
        // Errors carry the CORS header too, so the page can read why.
        let bad = try await Self.request(port, "POST", "/v1/events", headers: ["Origin: \(dashboard)"], body: "{")
        #expect(bad.status == 400 && bad.head.lowercased().contains("access-control-allow-origin"))
        // Anything else is still refused.
        #expect(try await Self.request(port, "GET", "/v1/stats", headers: ["Origin: \(Self.evil)"]).status == 403)
        #expect(try await Self.request(port, "GET", "/v1/stats", headers: ["Origin: http://dash.example.com"]).status == 403)
        #expect(await relay.terminate() == 0)
    }

    @Test func anEntryThatIsNotAnOriginStopsStartUp() async throws {
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve", "--listen", "127.0.0.1:0", "--store", "memory", "--allowed-origins", "https://dash.example.com/app"],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }
        )
        #expect(result.status == 2)
        #expect(result.output.contains(#"allowed-origins entry "https://dash.example.com/app" is not an origin"#), "\(result.output)")
    }
}
