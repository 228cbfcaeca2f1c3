import Foundation

/// The stock-client subscribers: `Benchmarks/StockClient/tether_subscribers.py`, Tether's
/// WebSocket protocol on the PyPI `websockets` package as a user following docs/PROTOCOL.md's
/// reference client would write it (JSON decoded, cumulative acks every 32 events or 20 ms).
/// Each subscriber process is a Python process keeping the contract of
/// `tether-peer-bench subscribe` (``Worker``), so the same coordinator code measures it.
struct StockClient {
    /// The Python interpreter with `websockets` (scripts/ensure-deps.sh bench makes `.build-venv`).
    let python: String
    let script: String

    /// The client, or why it cannot run (then every stock figure is reported as not measured).
    static func find(python: String?, script: String?) -> Result<StockClient, PeerError> {
        let python = python ?? ".build-venv/bin/python"
        // Run from the repository root (scripts/bench.sh does), else next to this source file.
        let relative = "Benchmarks/StockClient/tether_subscribers.py"
        let besideSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("StockClient/tether_subscribers.py").path
        let script = script ?? (FileManager.default.fileExists(atPath: relative) ? relative : besideSource)
        guard FileManager.default.fileExists(atPath: script) else {
            return .failure(PeerError("no stock client at \(script)"))
        }
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return .failure(PeerError("no Python at \(python) (scripts/ensure-deps.sh bench makes it)"))
        }
        let check = PeerServer.run(python, ["-c", "import websockets; print(websockets.__version__)"])
        guard let version = check.split(separator: "\n").last, version.first?.isNumber == true else {
            return .failure(PeerError("\(python) cannot import websockets: \(check.prefix(200))"))
        }
        FileHandle.standardError.write(Data("peer-bench: stock client: Python websockets \(version)\n".utf8))
        return .success(StockClient(python: python, script: script))
    }

    /// One Python subscriber process holding `count` subscribers.
    func spawn(port: Int, topic: String, prefix: String, count: Int, events: Int, timeout: Int64,
               batch: Bool, latencies: Bool) throws -> Worker {
        try Worker.spawn(executable: python, [
            "-u", script, "--port", "\(port)", "--topic", topic, "--prefix", prefix, "--count", "\(count)",
            "--events", "\(events)", "--timeout", "\(timeout)", "--batch", batch ? "1" : "0",
            "--latencies", latencies ? "1" : "0",
        ])
    }

    /// The `websockets` version, for the report.
    var version: String {
        PeerServer.run(python, ["-c", "import websockets; print(websockets.__version__)"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
