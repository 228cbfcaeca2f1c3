public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `tether serve` process on 127.0.0.1 with a port the kernel chose, for end-to-end tests.
///
/// ```swift
/// let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
/// defer { relay.terminate() }
/// let (status, body) = try await relay.http("GET", "/readyz")
/// ```
public final class RelayProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable, but after `run()` this type only reads its pid and
    // status and sends it signals, which Foundation allows from any thread; the output collector
    // synchronizes itself.
    public let process: Process
    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The `tether` binary under test: `$TETHER_BIN`, else the one built next to the test bundle.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["TETHER_BIN"] { return URL(fileURLWithPath: path) }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = argv0.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("tether")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        // Fall back to the package's debug build.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tether")
    }

    private let collector: OutputCollector

    private init(process: Process, port: Int, collector: OutputCollector) {
        self.process = process
        self.port = port
        self.collector = collector
    }

    /// Starts `tether serve --listen 127.0.0.1:0 <arguments>` and waits (up to `timeout` seconds)
    /// for it to report the port it listens on.
    ///
    /// - Parameter launcher: a command that execs the binary path and arguments appended to it,
    ///   keeping the pid (for example `["/bin/sh", "-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\""]`).
    public static func start(
        arguments: [String] = [], environment: [String: String] = [:], timeout: Double = 30, launcher: [String] = []
    ) async throws -> RelayProcess {
        let process = Process()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") && $0.key != "STATE_DIRECTORY" }
        env.merge(environment) { $1 }
        var arguments = arguments
        if !arguments.contains("--state-dir"), env["TETHER_STATE_DIR"] == nil, env["STATE_DIRECTORY"] == nil {
            // The default store is durable: give each process its own log, not ./tether-data.
            arguments += ["--state-dir", try temporaryDirectory(prefix: "tether-state").path]
        }
        let command = launcher + [binary.path, "serve", "--listen", "127.0.0.1:0"] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let collector = OutputCollector()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collector.append(data) }
        }
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let port = collector.listeningPort() {
                return RelayProcess(process: process, port: port, collector: collector)
            }
            if !process.isRunning {
                throw RelayProcessError("tether exited with status \(process.terminationStatus) before listening:\n\(collector.text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw RelayProcessError("tether did not report a listening port within \(timeout) s:\n\(collector.text)")
    }

    /// Everything the process wrote to stdout and stderr so far.
    public var log: String { collector.text }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    @discardableResult
    public func terminate(timeout: Double = 20) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        return await waitForExit(timeout: timeout)
    }

    /// SIGKILL: the crash a durable store must survive.
    @discardableResult
    public func killHard() async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        return await waitForExit(timeout: 20)
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    public func waitForExit(timeout: Double) async -> Int32 {
        await process.exitStatus(within: timeout)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// One HTTP request to the relay. Returns the status and the body.
    public func http(
        _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: Data) {
        try await HTTP.request(method, baseURL + path, body: body, headers: headers)
    }
}

/// A new, empty directory under the system's temporary directory (tests remove it or leave it
/// to the system's cleaner).
public func temporaryDirectory(prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Plain HTTP requests for tests (URLSession, one ephemeral session per call).
public enum HTTP {
    public static func request(
        _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 30
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        // FoundationNetworking on Linux has been seen to never complete a request (no reply, no
        // timeout error); the deadline turns that into this request's error, not a hung test run.
        let prepared = request
        let (data, response) = try await withDeadline(request.timeoutInterval + 5, "\(method) \(url)") {
            try await session.data(for: prepared)
        }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// Decodes a JSON body into Foundation values.
    public static func json(_ data: Data) throws -> Any {
        try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}

public struct RelayProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Collects a child's output from Foundation's reader thread.
final class OutputCollector: @unchecked Sendable {
    // @unchecked: every access to `data` holds `lock`.
    private let lock = NSLock()
    private var data = Data()
    private var ended = false

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }

    /// The writing end is closed: everything the child wrote has been appended.
    var isComplete: Bool {
        get {
            lock.lock()
            defer { lock.unlock() }
            return ended
        }
        set {
            lock.lock()
            ended = newValue
            lock.unlock()
        }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// The port from the relay's "listening on http(s)://HOST:PORT" line.
    func listeningPort() -> Int? {
        guard let range = text.range(of: "listening on http://") ?? text.range(of: "listening on https://") else { return nil }
        let rest = text[range.upperBound...]
        guard let colon = rest.lastIndex(of: ":", before: rest.firstIndex(where: { $0 == " " || $0 == "\n" }) ?? rest.endIndex) else { return nil }
        let digits = rest[rest.index(after: colon)...].prefix { $0.isNumber }
        return Int(digits)
    }
}

extension Substring {
    func lastIndex(of character: Character, before end: Index) -> Index? {
        self[startIndex..<end].lastIndex(of: character)
    }
}
