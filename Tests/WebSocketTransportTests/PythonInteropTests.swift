import Foundation
import Testing
import TetherTesting

/// A client nobody here wrote: Python's `websockets` (PyPI), driven by a script that follows
/// docs/PROTOCOL.md. The interpreter is the project's `.build-venv` (`scripts/ensure-deps.sh test`).
@Suite("Python websockets interop")
struct PythonInteropTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func pythonClientSaysHelloReceivesAcksAndResumes() async throws {
        let python = Self.root.appendingPathComponent(".build-venv/bin/python")
        try #require(FileManager.default.isExecutableFile(atPath: python.path), "no \(python.path): run scripts/ensure-deps.sh test (make test does)")
        let relay = try await RelayProcess.start()
        let script = Self.root.appendingPathComponent("Tests/interop/ws_resume_client.py").path
        let child = try ChildProcess.start(python, [script, relay.webSocketURL])
        let status = await child.waitForExit(timeout: 60)
        #expect(status == 0, "stderr:\n\(child.standardError)")
        let line = try #require(child.standardOutput.split(separator: "\n").last, "no output; stderr:\n\(child.standardError)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(result["first"] as? [Int] == [1, 2, 3, 4, 5])
        #expect(result["published"] as? [Int] == [1, 2, 3, 4, 5])
        #expect(result["resumed_flag"] as? Bool == true)
        let replay = try #require(result["replay"] as? [String: Any])
        #expect(replay["from"] as? Int == 6)
        #expect(replay["count"] as? Int == 5)
        #expect(replay["reset"] as? Bool == false)
        #expect(result["resumed"] as? [Int] == [6, 7, 8, 9, 10])
        #expect(result["data"] as? [Int] == [5, 6, 7, 8, 9])
        #expect(result["pong"] as? String == "py-ping")
        let echo = try #require(result["echo"] as? [Any])
        #expect(echo.first as? String == "py-echo")
        #expect((echo.last as? [String: Any])?["latency_ms"] as? [Double] == [1, 2.5], "echo: \(echo)")
        #expect(result["stats_head"] as? Int == 10)
        #expect(result["thief_error"] as? String == "resume_refused")
        #expect(result["thief_close"] as? Int == 4503)
        await relay.terminate()
    }
}
