public import Foundation

/// A long-running helper program whose output a test watches as it arrives: `curl -N` on an
/// event stream, a Python client. Killed on `stop()` or when released.
public final class StreamingProcess: @unchecked Sendable {
    // @unchecked: `Process` is used only to read its status and send signals after `run()`,
    // which Foundation allows from any thread; the collector synchronizes itself.
    public let process: Process
    private let collector = OutputCollector()

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : (ExternalTool.find(executable) ?? executable))
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let collector = self.collector
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                // End of file: the program and everything it started have closed the pipe.
                collector.isComplete = true
                handle.readabilityHandler = nil
            } else {
                collector.append(data)
            }
        }
        try process.run()
    }

    /// Everything written so far (stdout and stderr).
    public var output: String { collector.text }

    /// Waits until `predicate(output)` holds or `timeout` seconds pass; returns whether it held.
    /// Once the program has exited it waits only for the rest of its output (the pipe's end of
    /// file): the last lines it wrote may still be in the pipe when it is gone.
    @discardableResult
    public func waitUntil(timeout: Double = 20, _ predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(output) { return true }
            if !isAlive, collector.isComplete { return predicate(output) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(output)
    }

    public func stop() async {
        guard process.isRunning else { return }
        // SIGKILL, not SIGTERM: children inherit the test runner's ignored signals, and a test
        // client has nothing to save.
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        // Sleep asynchronously: Foundation notices the exit on a thread this must not block.
        while isAlive, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Whether the program still runs. A zombie (exited, not yet reaped by Foundation, which can
    /// lag by seconds on a busy machine) counts as exited.
    public var isAlive: Bool {
        guard process.isRunning else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
