import Foundation
import Testing
import TetherTesting

/// The protocol's side-effect-free frames (docs/PROTOCOL.md): `echo` answers and does nothing
/// else, and the welcome carries the settings a client must agree with.
@Suite("WebSocket echo and welcome settings")
struct WebSocketEchoTests {
    /// A JSON value as text with sorted keys, for comparing what was sent with what came back.
    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: ["v": value], options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func echoAnswersIdAndDataUnchangedAndLeavesNoTrace() async throws {
        let relay = try await RelayProcess.start()
        let other = RawSocket.connect(port: relay.port)
        _ = try await other.hello()
        let socket = RawSocket.connect(port: relay.port)
        _ = try await socket.hello()

        let payloads: [Any] = [["latency_ms": 12, "list": [1, "two", NSNull()]], "text", 3, NSNull()]
        for (index, data) in payloads.enumerated() {
            socket.send(json: ["type": "echo", "id": index, "data": data])
        }
        socket.send(#"{"type":"echo","id":"no-data"}"#)
        for (index, data) in payloads.enumerated() {
            let answer = try await socket.expect("echo")
            #expect(answer["id"] as? Int == index)
            #expect(try Self.canonical(answer["data"] ?? NSNull()) == Self.canonical(data), "echo \(index): \(answer)")
        }
        let bare = try await socket.expect("echo")
        #expect(bare["id"] as? String == "no-data" && bare["data"] is NSNull)

        // Nothing in the log, nothing counted as published, nothing at the other subscriber:
        // its next frame is the answer to its own ping, sent after every echo was answered.
        let log = try await relay.http("GET", "/v1/events?after=0")
        let events = try #require((try HTTP.json(log.body) as? [String: Any])?["events"] as? [Any])
        #expect(events.isEmpty)
        let totals = try #require(try await relay.stats()["totals"] as? [String: Any])
        #expect(totals["published"] as? Int == 0 && totals["head_sequence"] as? Int == 0)
        other.send(#"{"type":"ping","id":"fence"}"#)
        let fence = try await other.next()
        #expect(fence["type"] as? String == "pong" && fence["id"] as? String == "fence", "the other subscriber got \(fence)")
        socket.close()
        other.close()
        await relay.terminate()
    }

    @Test func welcomeCarriesTheRelaysStaleTimeoutAndQualitySpans() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_STALE_TIMEOUT": "42", "TETHER_WINDOW": "64"])
        let socket = RawSocket.connect(port: relay.port)
        let welcome = try await socket.hello()
        #expect(welcome["stale_timeout_ms"] as? Int == 42_000)
        #expect(welcome["ack_timeout_ms"] as? Int == 30_000)
        #expect(welcome["reconnect_window_ms"] as? Int == 900_000)
        #expect(welcome["window"] as? Int == 64)
        #expect(welcome["ping_interval_ms"] as? Int == 10_000)
        socket.close()
        await relay.terminate()
    }
}
