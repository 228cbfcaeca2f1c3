import Foundation
import Testing
import TetherTesting

/// DNS rebinding on a running relay: a page on `rebind.attacker.example` whose name was re-pointed
/// at the relay sends that name in both `Host` and `Origin`, which the origin check alone takes for
/// the relay's own page. The `Host` check refuses it on every route and upgrade, and
/// `--allowed-hosts` lets a name in.
@Suite("Host allow-list (DNS rebinding)")
struct HostTests {
    static let rebound = "rebind.attacker.example"

    static func request(_ port: Int, _ method: String, _ path: String, host: String, body: String? = nil) async throws -> (status: Int, body: String) {
        let connection = try RawTCPConnection(port: port)
        defer { connection.close() }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nOrigin: http://\(host)\r\nConnection: close\r\n"
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try await connection.send(request + "\r\n" + (body ?? ""))
        let response = await connection.readHTTPResponse(timeout: path.hasPrefix("/v1/stream") ? 3 : 10)
        return (response.status, response.body)
    }

    static func upgradeStatus(_ port: Int, host: String) async throws -> Int {
        let socket = try RawTCPConnection(port: port)
        defer { socket.close() }
        try await socket.send(
            "GET /v1/ws HTTP/1.1\r\nHost: \(host)\r\nOrigin: http://\(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        return await socket.readHTTPResponse().status
    }

    @Test func aReboundNameIsRefusedAndStoresNothing() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let host = "\(Self.rebound):\(relay.port)"
        let publish = try await Self.request(relay.port, "POST", "/v1/events", host: host, body: #"{"topic":"rebind","data":1}"#)
        #expect(publish.status == 421)
        #expect(publish.body.contains(#""code":"host_not_allowed""#) && publish.body.contains("--allowed-hosts \(Self.rebound)"), "\(publish.body)")
        #expect(try await Self.upgradeStatus(relay.port, host: host) == 400)
        #expect(String(decoding: try await relay.http("GET", "/v1/events?after=0").body, as: UTF8.self).contains(#""events":[]"#))
        // The relay's own names still work, Origin included (the dashboard).
        #expect(try await Self.request(relay.port, "POST", "/v1/events", host: "127.0.0.1:\(relay.port)", body: #"{"topic":"ok","data":1}"#).status == 202)
        #expect(try await Self.request(relay.port, "GET", "/v1/stats", host: "localhost:\(relay.port)").status == 200)
        #expect(try await Self.upgradeStatus(relay.port, host: "localhost:\(relay.port)") == 101)
        let metrics = String(decoding: try await relay.http("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"tether_refused_total{reason="host_not_allowed"} 2"#), "\(metrics.split(separator: "\n").filter { $0.contains("refused") })")
        #expect(await relay.terminate() == 0)
        #expect(relay.log.components(separatedBy: "refused host_not_allowed").count == 2, "\(relay.log)")
        #expect(relay.log.contains("Host check: requests must name the relay in Host as one of: loopback names"))
    }

    @Test func allowedHostsLetsANameIn() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory", "--allowed-hosts", "relay.example.com, \(Self.rebound)"])
        let host = "\(Self.rebound.uppercased()).:\(relay.port)"
        #expect(try await Self.request(relay.port, "POST", "/v1/events", host: host, body: #"{"topic":"named","data":1}"#).status == 202)
        #expect(try await Self.upgradeStatus(relay.port, host: host) == 101)
        #expect(try await Self.request(relay.port, "GET", "/v1/stats", host: "other.example.com").status == 421)
        #expect(await relay.terminate() == 0)
    }

    @Test func anAllowedHostsEntryWithAPortStopsStartUp() async throws {
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve", "--listen", "127.0.0.1:0", "--store", "memory", "--allowed-hosts", "relay.example.com:8765"],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }
        )
        #expect(result.status == 2)
        #expect(result.output.contains(#"allowed-hosts entry "relay.example.com:8765" is not a host name or IP address"#), "\(result.output)")
    }

    @Test func aListenNameThatMerelyStartsWith127IsNotLoopback() async throws {
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve", "--listen", "127.attacker.invalid:0", "--store", "memory"],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }
        )
        #expect(result.status == 2)
        #expect(result.output.contains("beyond loopback"), "\(result.output)")
    }
}
