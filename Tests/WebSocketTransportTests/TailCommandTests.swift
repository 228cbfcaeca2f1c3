import Foundation
import Testing
import TetherTesting

/// `tether tail` and `tether publish` as separate processes against a real relay.
@Suite("tether tail and publish")
struct TailCommandTests {
    @Test func tailWithStateSurvivesARelayRestartAndReportsTheReset() async throws {
        let relay = try await RelayProcess.start()
        let port = relay.port
        let url = relay.webSocketURL
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("tether-tail-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let tail = try ChildProcess.start(RelayProcess.binary, ["tail", "--url", url, "--state", state, "--json"])
        try await tail.waitForStderr(timeout: 30, "connected") { $0.contains("connected as") }

        let publish = try ChildProcess.start(RelayProcess.binary, ["publish", "news", #"{"n":1}"#, "--url", url])
        #expect(await publish.waitForExit() == 0, "\(publish.standardError)")
        #expect(publish.standardOutput == "1\n")
        try await relay.publish(2, topic: "news", start: 2)
        try await tail.waitForStdout("three events") { $0.split(separator: "\n").count >= 3 }

        // The relay restarts on the same port with a new (memory) log.
        await relay.terminate()
        let restarted = try await RelayProcess.start(arguments: ["--listen", "127.0.0.1:\(port)"])
        try await tail.waitForStderr(timeout: 60, "reset") { $0.contains("reset:") }
        try await restarted.publish(2, topic: "news", start: 10)
        let out = try await tail.waitForStdout("events after the reset") { $0.split(separator: "\n").count >= 6 }
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines[3].contains(#""type":"reset""#))
        let seqs = lines.compactMap { line -> Int? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], object["type"] as? String == "event" else { return nil }
            return object["seq"] as? Int
        }
        #expect(seqs == [1, 2, 3, 1, 2])
        #expect(await tail.terminate() == 0, "\(tail.standardError)")

        // Restarted itself, tail resumes from its state: no replay of what it printed.
        let again = try ChildProcess.start(RelayProcess.binary, ["tail", "--url", url, "--state", state, "--json", "--count", "1"])
        try await again.waitForStderr("resumed") { $0.contains("resumed") }
        try await restarted.publish(1, topic: "news", start: 20)
        #expect(await again.waitForExit() == 0, "\(again.standardError)")
        #expect(again.standardOutput.contains(#""seq":3"#))
        #expect(!again.standardOutput.contains(#""seq":2"#))
        #expect(again.standardError.contains("nothing to replay"))
        await restarted.terminate()
    }

    @Test func publishReadsNDJSONFromStdinAndStatusShowsTheClients() async throws {
        let relay = try await RelayProcess.start()
        let url = relay.webSocketURL
        let subscriber = RawSocket.connect(port: relay.port)
        _ = try await subscriber.hello(["client_id": "watcher"])
        let publish = try ChildProcess.start(RelayProcess.binary, ["publish", "t", "-", "--url", url], stdin: Data("{\"a\":1}\n\n[2]\n\"three\"\n".utf8))
        #expect(await publish.waitForExit() == 0, "\(publish.standardError)")
        #expect(publish.standardOutput == "1\n2\n3\n")
        let bad = try ChildProcess.start(RelayProcess.binary, ["publish", "t", "{oops", "--url", url])
        #expect(await bad.waitForExit() == 2)
        #expect(bad.standardError.contains("not valid JSON"))

        let status = try ChildProcess.start(RelayProcess.binary, ["status", "--url", url])
        #expect(await status.waitForExit() == 0, "\(status.standardError)")
        #expect(status.standardOutput.contains("CLIENT"))
        #expect(status.standardOutput.contains("watcher"))
        #expect(status.standardOutput.contains("connected"))
        let json = try ChildProcess.start(RelayProcess.binary, ["status", "--json", "--url", url])
        #expect(await json.waitForExit() == 0)
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        #expect((stats["totals"] as? [String: Any])?["head_sequence"] as? Int == 3)
        subscriber.close()
        await relay.terminate()
    }
}
