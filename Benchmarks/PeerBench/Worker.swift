import Foundation

/// A subscriber process (`tether-peer-bench subscribe …`) seen from the coordinator.
struct Worker {
    let process: Process
    let output: Pipe

    static func spawn(_ arguments: [String]) throws -> Worker {
        try spawn(executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, ["subscribe"] + arguments)
    }

    /// Another program that keeps the same contract (`ready`, then one JSON line): the stock
    /// Python client (``StockClient``).
    static func spawn(executable: String, _ arguments: [String]) throws -> Worker {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        Children.started(process.processIdentifier)
        return Worker(process: process, output: output)
    }

    func waitReady() throws {
        let line = readLine()
        guard line == "ready" else {
            kill()
            throw PeerError("a subscriber process did not get ready: \(line ?? "it exited")")
        }
    }

    func result() throws -> [String: Any] {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        Children.ended(process.processIdentifier)
        guard let result = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PeerError("a subscriber process reported nothing usable: \(String(decoding: data, as: UTF8.self).prefix(200))")
        }
        return result
    }

    func kill() {
        defer { Children.ended(process.processIdentifier) }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    private func readLine() -> String? {
        var bytes: [UInt8] = []
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if first == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(first)
        }
    }
}
