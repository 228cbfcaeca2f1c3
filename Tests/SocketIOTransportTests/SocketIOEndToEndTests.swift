import Foundation
import Testing
import TetherTesting

/// `/socket.io/` of the real relay, driven by python-socketio (a client nobody here wrote) and by
/// raw Engine.IO requests.
@Suite("Socket.IO transport", .serialized)
struct SocketIOEndToEndTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func python() throws -> String {
        let path = packageRoot.appendingPathComponent(".build-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RelayProcessError("no \(path): run scripts/ensure-deps.sh test to install the Python test clients")
        }
        return path
    }

    static func client(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/SocketIOTransportTests/clients/\(name)").path
    }

    /// Runs a client script to completion and returns its JSON summary (its last stdout line).
    static func runClient(_ script: String, _ arguments: [String], timeout: Double = 120) async throws -> [String: Any] {
        let process = try StreamingProcess(try python(), [client(script)] + arguments)
        let finished = await process.waitUntil(timeout: timeout) { _ in !process.isAlive }
        await process.stop()
        let output = process.output
        #expect(finished, "client did not finish within \(timeout) s:\n\(output)")
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") }
        guard let line, let summary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw RelayProcessError("client printed no summary:\n\(output)")
        }
        return summary
    }

    /// The seed's server lost everything on restart; over the durable default store a seed client
    /// that comes back after a relay restart gets exactly what it missed, in one replay.
    @Test func seedClientResumesExactlyAcrossARelayRestart() async throws {
        let state = try temporaryDirectory(prefix: "tether-sio-restart")
        let port = try FreePort.next()
        let arguments = ["--listen", "127.0.0.1:\(port)", "--state-dir", state.path]
        func publish(_ relay: RelayProcess, _ range: Range<Int>) async throws {
            let body = range.map { #"{"topic":"claude_event","data":{"n":\#($0)}}"# }.joined(separator: "\n")
            #expect(try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"]).status == 202)
        }
        var relay = try await RelayProcess.start(arguments: arguments)
        try await publish(relay, 0..<10)
        let first = try await Self.runClient("seed_once.py", [relay.baseURL, "seed-dashboard", "0"])
        let epoch = try #require((first["established"] as? [String: Any])?["epoch"] as? String)
        #expect(await relay.terminate() == 0)

        relay = try await RelayProcess.start(arguments: arguments)
        try await publish(relay, 10..<35)
        let second = try await Self.runClient("seed_once.py", [relay.baseURL, "seed-dashboard", "10"])
        await relay.terminate()
        #expect((second["established"] as? [String: Any])?["epoch"] as? String == epoch, "the durable store keeps its epoch")
        let replay = try #require(second["replay"] as? [String: Any])
        let sequences = (replay["events"] as? [[String: Any]] ?? []).compactMap { $0["sequence"] as? Int }
        #expect(sequences == Array(11...35))
        #expect(replay["count"] as? Int == 25)
    }

    @Test(arguments: ["upgrade", "polling", "websocket"])
    func seedClientGetsExactlyTheMissedEventsInOneReplayThenLive(transport: String) async throws {
        let relay = try await RelayProcess.start()
        let summary: [String: Any]
        do {
            summary = try await Self.runClient("seed_resume.py", [relay.baseURL, transport, "500"])
        } catch {
            await relay.terminate()
            throw error
        }
        await relay.terminate()

        let before = try #require(summary["received_before"] as? [Int])
        #expect(before == (summary["published_before"] as? [Int]))
        let seedEvent = try #require(summary["seed_event"] as? [String: Any])
        #expect(seedEvent["type"] as? String == "hook")
        #expect((seedEvent["data"] as? [String: Any])?["subtype"] as? String == "pre_tool")
        #expect((summary["offsets_before"] as? [String])?.count == before.count, "stock recovery offsets ride along as the last argument")

        let missed = try #require(summary["missed"] as? [Int])
        #expect(missed.count == 500)
        #expect(summary["replay_sequences"] as? [Int] == missed)
        #expect(summary["replay_count"] as? Int == 500)
        #expect(summary["replay_from"] as? Int == missed.first)
        #expect(summary["received_after"] as? [Int] == (summary["published_after"] as? [Int]))
        #expect((summary["ack_confirmed"] as? [String: Any])?["ok"] as? Bool == true)
        #expect((summary["pong"] as? [String: Any])?["timestamp"] as? Int == 12345)
        #expect(summary["stats_has_connections"] as? Bool == true)
    }

    /// Past a connection limit a Socket.IO client hears why in its `connect_error` handler (the
    /// relay's code in `data.code`), instead of a silently closed session.
    @Test(arguments: ["polling", "websocket"])
    func aSessionPastTheConnectionLimitGetsConnectErrorWithTheReason(transport: String) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_LIMITS_MAX_CONNECTIONS_PER_ADDRESS": "1"])
        let holder = try RawTCPConnection(port: relay.port)
        try await holder.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: relay.port))
        #expect(await holder.readHTTPResponse().status == 101)
        let summary: [String: Any]
        do {
            summary = try await Self.runClient("refused_connect.py", [relay.baseURL, transport])
        } catch {
            await relay.terminate()
            throw error
        }
        let error = try #require(summary["connect_error"] as? [String: Any], "\(summary)")
        #expect((error["data"] as? [String: Any])?["code"] as? String == "too_many_connections", "\(error)")
        #expect((error["message"] as? String)?.isEmpty == false)
        #expect(summary["connected"] as? Bool == false)
        let metrics = String(decoding: try await relay.http("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains(#"tether_refused_total{reason="too_many_connections"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("refused") })")
        // The holder's slot is the only one taken: once it leaves, a Socket.IO client gets in.
        holder.close()
        var admitted: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(20)
        repeat {
            admitted = try await Self.runClient("refused_connect.py", [relay.baseURL, transport])
        } while admitted["connected"] as? Bool != true && Date() < deadline
        #expect(admitted["connect_error"] is NSNull && admitted["connected"] as? Bool == true, "\(admitted)")
        #expect(await relay.terminate() == 0)
    }
}
