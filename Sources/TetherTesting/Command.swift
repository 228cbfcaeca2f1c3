public import Foundation

/// Runs a command to completion for a test, without blocking a cooperative thread: output goes to
/// a temporary file (not a pipe, whose write end a concurrently spawned child could inherit and
/// hold open, so that reading to EOF would never end), and exit is polled with a deadline.
public enum Command {
    public struct Result: Sendable {
        public var status: Int32
        /// stdout and stderr, interleaved.
        public var output: String
    }

    /// - Parameter input: bytes for the command's standard input (else it reads nothing).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        directory: URL? = nil, input: Data? = nil, timeout: Double = 120
    ) async throws -> Result {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tether-command-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = handle
        process.standardError = handle
        if let input {
            // A file, not a pipe, for the same reason as the output.
            let inputFile = log.deletingPathExtension().appendingPathExtension("in")
            try input.write(to: inputFile)
            defer { try? FileManager.default.removeItem(at: inputFile) }
            process.standardInput = try FileHandle(forReadingFrom: inputFile)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        try handle.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            _ = await process.exitStatus(within: 0)
            throw RelayProcessError("\(executable) did not finish within \(timeout) s:\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        return Result(status: process.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}

extension Process {
    /// Waits for the program to exit, polling so no cooperative thread blocks; SIGKILL after
    /// `timeout` seconds. Returns its exit status, or -1 when Foundation has still not seen it
    /// exit 10 s after SIGKILL (a missed child exit would otherwise hold the test for ever:
    /// `waitUntilExit()` blocks a cooperative thread, of which this machine has two).
    public func exitStatus(within timeout: Double) async -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard isRunning else { return terminationStatus }
        kill(processIdentifier, SIGKILL)
        let killDeadline = Date().addingTimeInterval(10)
        while isRunning, Date() < killDeadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return isRunning ? -1 : terminationStatus
    }
}
