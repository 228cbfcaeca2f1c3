import Foundation
import Testing
import TetherTesting

/// `tether bench websocket` reports each round as it goes and can be stopped: a signal ends it and
/// every subscriber process it started.
@Suite("tether bench progress and signals")
struct BenchSignalTests {
    /// Pids of `tether bench subscribe` processes aimed at `port`, read from /proc.
    static func subscribers(port: Int) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.contains("subscribe") && arguments.contains { $0.contains("127.0.0.1:\(port)") }
        }
    }

    @Test(.timeLimit(.minutes(2)), arguments: [SIGTERM, SIGINT])
    func aSignalStopsTheBenchAndEndsItsSubscribers(signal: Int32) async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        // Far more deliveries than the test waits for: only a signal ends it early.
        let bench = try StreamingProcess(RelayProcess.binary.path, [
            "bench", "websocket", "--url", "ws://127.0.0.1:\(relay.port)/v1/ws", "--subscribers", "3", "--deliveries", "300000000", "--replay-runs", "1",
        ])
        let started = await bench.waitUntil(timeout: 60) { $0.contains("[1/3] fan-out to 3 subscribers") }
        #expect(started, "no progress line: \(bench.output)")
        // Wait until its subscribers run (they print ready to the bench, which then publishes).
        let deadline = Date().addingTimeInterval(30)
        while Self.subscribers(port: relay.port).count < 3, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(Self.subscribers(port: relay.port).count == 3)
        kill(bench.process.processIdentifier, signal)
        let stopped = await bench.waitUntil(timeout: 20) { _ in !bench.isAlive }
        #expect(stopped, "the bench kept running after signal \(signal): \(bench.output)")
        // Its last line may still be in the pipe when the process is gone: wait for it to arrive.
        let message = "bench stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM"); ended 3 subscriber processes"
        #expect(await bench.waitUntil(timeout: 10) { $0.contains(message) }, "\(bench.output)")
        let gone = Date().addingTimeInterval(10)
        while !Self.subscribers(port: relay.port).isEmpty, Date() < gone { try await Task.sleep(for: .milliseconds(50)) }
        #expect(Self.subscribers(port: relay.port).isEmpty, "subscriber processes left behind")
        await bench.stop()
        await relay.terminate()
    }
}
