import Foundation
import Testing
import TetherTesting

/// The one-shot client commands as an operator runs them: they leave no client behind, accept the
/// relay's address as people write it, and say plainly when nothing answers.
@Suite("One-shot client commands against a real relay")
struct ClientCommandTests {
    static func stats(_ relay: RelayProcess) async throws -> [String: Any] {
        try #require(try HTTP.json(try await relay.http("GET", "/v1/stats").body) as? [String: Any])
    }

    @Test func publishAndStatusLeaveNoClientRecordAndAreNotCountedAsConnections() async throws {
        let directory = try temporaryDirectory(prefix: "tether-ephemeral")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try await RelayProcess.start(arguments: ["--store", "sqlite", "--state-dir", directory.path])
        for n in 1...3 {
            let published = try await TetherCommand.run(["publish", "--url", "ws://127.0.0.1:\(relay.port)/v1/ws", "deploys", "{\"n\":\(n)}"])
            #expect(published.status == 0, "\(published.output)")
            #expect(published.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(n)")
        }
        let status = try await TetherCommand.run(["status", "--url", "ws://127.0.0.1:\(relay.port)/v1/ws"])
        #expect(status.status == 0, "\(status.output)")
        let stats = try await Self.stats(relay)
        #expect((stats["clients"] as? [Any])?.isEmpty == true, "one-shot commands left clients: \(stats["clients"] ?? "")")
        #expect((stats["totals"] as? [String: Any])?["connections"] as? Int == 0)
        let metrics = String(decoding: try await relay.http("GET", "/metrics").body, as: UTF8.self)
        #expect(!metrics.split(separator: "\n").contains { $0.hasPrefix("tether_connections{") }, "counted as connections: \(metrics)")
        // Nor is anything saved for them: a restart on the same log knows no client.
        #expect(await relay.terminate() == 0)
        let again = try await RelayProcess.start(arguments: ["--store", "sqlite", "--state-dir", directory.path])
        #expect((try await Self.stats(again)["clients"] as? [Any])?.isEmpty == true)
        await again.terminate()
    }

    @Test(arguments: ["http://127.0.0.1:{port}/", "127.0.0.1:{port}", "ws://127.0.0.1:{port}", "http://127.0.0.1:{port}/v1/ws"])
    func aRelayAddressIsAcceptedAsPeopleWriteIt(form: String) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let url = form.replacingOccurrences(of: "{port}", with: "\(relay.port)")
        let published = try await TetherCommand.run(["publish", "--url", url, "t", "1"])
        #expect(published.status == 0, "\(url): \(published.output)")
        #expect(published.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        await relay.terminate()
    }

    @Test func aRelayThatIsNotThereIsSaidToRefuseTheConnection() async throws {
        let port = try FreePort.next()
        let result = try await TetherCommand.run(["status", "--url", "127.0.0.1:\(port)"])
        #expect(result.status == 1)
        #expect(result.output.contains("relay at ws://127.0.0.1:\(port)/v1/ws refused the connection"), "\(result.output)")
        #expect(!result.output.contains("SingleConnectionFailure"), "\(result.output)")
    }

    @Test func tailCountsOneReplayedEventInTheSingular() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let published = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"t","data":1}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(published.status == 202)
        let tail = try StreamingProcess(RelayProcess.binary.path, ["tail", "--url", "127.0.0.1:\(relay.port)", "--history", "1"])
        let welcomed = await tail.waitUntil { $0.contains("replaying") }
        await tail.stop()
        #expect(welcomed, "\(tail.output)")
        #expect(tail.output.contains("replaying 1 event (seq 1...1)"), "\(tail.output)")
        await relay.terminate()
    }
}
