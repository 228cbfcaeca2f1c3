public import Foundation

/// Any child process a test drives (a `tether tail`, a Python client): started with arguments
/// and environment, its stdout and stderr collected separately, waited on with deadlines.
///
/// ```swift
/// let tail = try ChildProcess.start(RelayProcess.binary, ["tail", "--url", url])
/// try await tail.waitForStdout(timeout: 20) { $0.contains("\n") }
/// ```
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; after `run()` this type only reads its state and
    // sends it signals, which Foundation allows from any thread. The collectors lock themselves.
    public let process: Process
    private let stdout = OutputCollector()
    private let stderr = OutputCollector()

    private init(process: Process) {
        self.process = process
    }

    /// Starts `executable` with `arguments`; `environment` is added to this process's own.
    public static func start(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws -> ChildProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let child = ChildProcess(process: process)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let outCollector = child.stdout
        let errCollector = child.stderr
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { outCollector.append(data) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { errCollector.append(data) }
        }
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        return child
    }

    public var standardOutput: String { stdout.text }
    public var standardError: String { stderr.text }

    /// Waits until `condition(stdout)` holds; throws with both outputs if the deadline passes.
    @discardableResult
    public func waitForStdout(timeout: Double = 30, _ what: String = "output", until condition: (String) -> Bool) async throws -> String {
        try await wait(timeout: timeout, what) { condition(stdout.text) }
        return stdout.text
    }

    /// Waits until `condition(stderr)` holds.
    @discardableResult
    public func waitForStderr(timeout: Double = 30, _ what: String = "output", until condition: (String) -> Bool) async throws -> String {
        try await wait(timeout: timeout, what) { condition(stderr.text) }
        return stderr.text
    }

    private func wait(timeout: Double, _ what: String, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                throw RelayProcessError("\(what) not seen within \(timeout) s (running: \(process.isRunning))\nstdout:\n\(stdout.text)\nstderr:\n\(stderr.text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to exit (SIGKILL after `timeout`); returns its status.
    @discardableResult
    public func waitForExit(timeout: Double = 30) async -> Int32 {
        await process.exitStatus(within: timeout)
    }

    /// SIGTERM, then waits for the exit.
    @discardableResult
    public func terminate(timeout: Double = 20) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        return await waitForExit(timeout: timeout)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
