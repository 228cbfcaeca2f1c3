import Foundation
import Testing
import TetherTesting

/// The dashboard in a real browser: Debian's Chromium driven by Playwright for Python
/// (`browser/scenarios.py`, run with the project's `.build-venv`) against the real relay.
/// Screenshots land in `.build/dashboard-screenshots/` (not committed).
@Suite("Dashboard in Chromium", .serialized)
struct DashboardBrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".build-venv/bin/python")
    static let script = root.appendingPathComponent("Tests/DashboardTests/browser/scenarios.py").path
    static let screenshots = root.appendingPathComponent(".build/dashboard-screenshots").path

    static func requirements() throws {
        try #require(FileManager.default.isExecutableFile(atPath: python.path), "no \(python.path): run scripts/ensure-deps.sh test (make test does)")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "no /usr/bin/chromium: run scripts/ensure-deps.sh test")
    }

    /// Starts the scenario script; the caller waits for it (and may talk to it meanwhile).
    static func start(_ scenario: String, base: String, signals: URL? = nil) throws -> ChildProcess {
        var arguments = [script, scenario, "--base", base, "--shots", screenshots]
        if let signals { arguments += ["--signals", signals.path] }
        return try ChildProcess.start(python, arguments)
    }

    /// Waits for the script's exit and decodes its last stdout line.
    /// `allowingRefusedSockets`: Chromium logs each refused WebSocket as a console error; the
    /// scenario that stops the relay expects those.
    static func result(of child: ChildProcess, timeout: Double = 120, allowingRefusedSockets: Bool = false) async throws -> [String: Any] {
        let status = await child.waitForExit(timeout: timeout)
        let line = try #require(child.standardOutput.split(separator: "\n").last, "no output; stderr:\n\(child.standardError)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        #expect(status == 0, "scenario failed: \(result["error"] ?? "?")\nstderr:\n\(child.standardError)")
        let errors = (result["console_errors"] as? [String] ?? []).filter {
            !(allowingRefusedSockets && $0.contains("WebSocket connection to") && $0.contains("ERR_CONNECTION_REFUSED"))
        }
        #expect(errors.isEmpty, "browser console errors: \(errors)")
        return result
    }

    static func countOnce(_ published: [Int], in stream: [Int]) -> Bool {
        published.allSatisfy { seq in stream.filter { $0 == seq }.count == 1 }
    }

    @Test func pageConnectsShowsEventsAndDebugPanelWorks() async throws {
        try Self.requirements()
        let relay = try await RelayProcess.start()
        let child = try Self.start("basic", base: relay.baseURL)
        let result = try await Self.result(of: child)
        await relay.terminate()

        #expect(result["ok"] as? Bool == true)
        #expect(result["badge_text"] as? String == "Connected")
        let published = try #require(result["published"] as? [Int])
        let stream = try #require(result["stream"] as? [Int])
        #expect(published.count == 3)
        #expect(Self.countOnce(published, in: stream), "stream \(stream)")
        #expect(stream == stream.sorted(by: >), "newest first: \(stream)")
        #expect((result["clients_rows"] as? Int ?? 0) >= 1)
        #expect(result["metrics_state"] as? String == "connected")
        let quality = try #require(result["metrics_quality"] as? Double)
        #expect(quality >= 0 && quality <= 1)
        #expect(result["stored_last_sequence"] as? String == String(published.max() ?? -1))
        #expect((result["stored_client_id"] as? String)?.isEmpty == false)
        #expect(result["visible_after_filter"] as? [String] == Array(repeating: "browser.test", count: 3))
        #expect(result["panel_open"] as? Bool == true)
        let latency = try #require(Double(result["latency_test"] as? String ?? ""), "latency test reported \(result["latency_test"] ?? "nothing")")
        #expect(latency >= 0)
        #expect(Double(result["throughput_test"] as? String ?? "") != nil, "throughput: \(result["throughput_test"] ?? "nothing")")
        // The network tests leave no trace on the relay: no event in the log, none delivered to
        // another subscriber, nothing counted as published.
        #expect(result["head_after_tests"] as? Int == result["head_before_tests"] as? Int)
        #expect(result["published_after_tests"] as? Int == result["published_before_tests"] as? Int)
        #expect((result["log_after_tests"] as? [Any])?.isEmpty == true, "events in the log after the tests: \(result["log_after_tests"] ?? "?")")
        #expect(result["second_subscriber_events"] as? Int == 0)
        // The panel's metrics follow the events, not a second-old snapshot.
        #expect(result["panel_last_sequence"] as? String == String(result["stream_newest"] as? Int ?? -1))
        let stability = try #require(result["stability_test"] as? [String: Any])
        #expect((stability["ok"] as? Int ?? 0) >= 1)
        #expect(result["export_keys"] as? [String] == ["exported_at", "frames", "metrics", "page", "timeline"])
        #expect((result["export_timeline_entries"] as? Int ?? 0) > 0)
        #expect((result["export_filename"] as? String)?.hasSuffix(".json") == true)
        #expect(result["panel_closed"] as? Bool == true)
    }

    @Test func simulatedDisconnectReconnectsAndReplaysEachEventOnce() async throws {
        try Self.requirements()
        let relay = try await RelayProcess.start()
        let child = try Self.start("replay", base: relay.baseURL)
        let result = try await Self.result(of: child)
        await relay.terminate()

        let states = try #require(result["states"] as? [String])
        let reconnecting = try #require(states.firstIndex(of: "reconnecting"), "states: \(states)")
        #expect(states[reconnecting...].contains("connected"), "states: \(states)")
        let published = try #require(result["published"] as? [Int])
        let stream = try #require(result["stream"] as? [Int])
        #expect(published.count == 6)
        #expect(Self.countOnce(published, in: stream), "published \(published), stream \(stream)")
        #expect(stream.count == Set(stream).count, "duplicates in \(stream)")
        let metrics = try #require(result["metrics"] as? [String: Any])
        #expect(metrics["reconnects"] as? Int == 1)
        // The page's own publishes while offline: buffered, then sent in order, once each.
        #expect(result["buffered_while_offline"] as? Int == 3)
        let offline = try #require(result["offline_events"] as? [[Int]])
        #expect(offline.map { $0[1] } == [0, 1, 2], "offline publishes: \(offline)")
        #expect(offline.map { $0[0] } == offline.map { $0[0] }.sorted(), "offline publishes: \(offline)")
        #expect(metrics["bufferedPublishes"] as? Int == 0)
    }

    @Test func silentConnectionTurnsStaleAfterTheRelaysTimeoutThenConnectedOnTraffic() async throws {
        try Self.requirements()
        // The page has no stale timeout of its own: the relay's (2 s here) comes in its welcome.
        let relay = try await RelayProcess.start(environment: ["TETHER_STALE_TIMEOUT": "2"])
        let child = try Self.start("stale", base: relay.baseURL)
        let result = try await Self.result(of: child)
        await relay.terminate()

        #expect(result["welcome_stale_timeout_ms"] as? Int == 2000)
        #expect(result["page_stale_timeout_ms"] as? Int == 2000)
        #expect(result["stale_badge_text"] as? String == "Stale")
        let states = try #require(result["states"] as? [String])
        #expect(states.prefix(2) == ["stale", "connected"], "states: \(states)")
    }

    @Test func stoppedRelayLeadsToFailedThenManualRetryResumes() async throws {
        try Self.requirements()
        let port = try FreePort.next()
        let state = try temporaryDirectory(prefix: "tether-dashboard-state")
        let arguments = ["--listen", "127.0.0.1:\(port)", "--state-dir", state.path]
        var relay = try await RelayProcess.start(arguments: arguments)
        #expect(relay.port == port)
        let signals = try temporaryDirectory(prefix: "tether-dashboard-signals")
        let child = try Self.start("restart", base: "http://127.0.0.1:\(port)", signals: signals)

        try await child.waitForStdout(timeout: 60, "STOP_RELAY") { $0.contains("STOP_RELAY") }
        await relay.terminate()
        _ = FileManager.default.createFile(atPath: signals.appendingPathComponent("stopped").path, contents: nil)
        try await child.waitForStdout(timeout: 90, "START_RELAY") { $0.contains("START_RELAY") }
        relay = try await RelayProcess.start(arguments: arguments)
        _ = FileManager.default.createFile(atPath: signals.appendingPathComponent("started").path, contents: nil)
        let result = try await Self.result(of: child, allowingRefusedSockets: true)
        await relay.terminate()

        let delays = try #require(result["delays"] as? [Int])
        #expect(delays.count >= 4, "delays: \(delays)")
        let series = Array(delays.suffix(4))
        #expect(zip(series, series.dropFirst()).allSatisfy { $0 < $1 }, "delays should grow: \(series)")
        #expect(result["attempts_at_failure"] as? Int == 4)
        #expect((result["failed_badge_text"] as? String)?.hasPrefix("Failed") == true)
        #expect(result["retry_visible"] as? Bool == true)
        // No colour that passes for a good score while nothing is connected.
        #expect(result["quality_level_at_failure"] as? String == "offline")
        #expect(result["quality_text_at_failure"] as? String == "offline")
        let toasts = try #require(result["toasts_at_failure"] as? [String])
        #expect(toasts.contains { $0.hasPrefix("Gave up after 4 attempts") }, "toasts: \(toasts)")
        #expect(!toasts.contains { $0.contains("closed 1006") || $0.hasPrefix("Reconnecting:") }, "raw toast text: \(toasts)")
        let states = try #require(result["states"] as? [String])
        #expect(states.contains("reconnecting") && states.contains("failed"), "states: \(states)")
        #expect(states.last == "connected", "states: \(states)")
        let published = try #require(result["published"] as? [Int])
        let stream = try #require(result["stream"] as? [Int])
        #expect(Self.countOnce(published, in: stream), "published \(published), stream \(stream)")
        #expect(result["stored_last_sequence"] as? String == String(published.max() ?? -1))
    }
}
