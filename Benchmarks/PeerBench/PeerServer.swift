import Foundation
import TetherTesting

/// A server under test, started as its own process on 127.0.0.1 with a private data directory,
/// and measured from outside through /proc (CPU ticks, VmRSS). Owned by the coordinator thread.
final class PeerServer {
    enum Kind: String, CaseIterable {
        case tetherMemory = "tether-memory", tetherSQLite = "tether-sqlite", tetherSSE = "tether-sse", tetherSocketIO = "tether-socketio", mosquitto, nats

        /// What subscribers speak.
        var wire: WireProtocol {
            switch self {
            case .tetherMemory, .tetherSQLite: .tether
            case .tetherSSE: .sse
            case .tetherSocketIO: .socketio
            case .mosquitto: .mqtt
            case .nats: .nats
            }
        }
        /// What the producer speaks: every Tether producer publishes over WebSocket (SSE has no
        /// way back; the Socket.IO client here only subscribes).
        var producerWire: WireProtocol { isTether ? .tether : wire }
        var isTether: Bool { wire == .tether || wire == .sse || wire == .socketio }
        /// Subscribers acknowledge (SSE and Socket.IO do not: the relay counts a written or
        /// queued event as delivered).
        var acks: Bool { wire != .sse && wire != .socketio }
        /// Keeps accepted events across a restart (what the SIGKILL figure is about).
        var durable: Bool { self == .tetherSQLite || !isTether }
    }

    let kind: Kind
    let directory: String
    private(set) var port: Int
    private(set) var process: Process
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Starts the server and waits until it accepts connections (at most 15 s).
    init(kind: Kind, directory: String, tether: String, port: Int? = nil) throws {
        self.kind = kind
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.port = try port ?? (kind.isTether ? 0 : freeLoopbackPort())
        self.process = Process()
        try launch(tether: tether)
    }

    var pid: Int32 { process.processIdentifier }

    private func launch(tether: String) throws {
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        process = Process()
        process.standardOutput = output
        process.standardError = output
        var environment = ProcessInfo.processInfo.environment
        switch kind {
        case .tetherMemory, .tetherSQLite, .tetherSSE, .tetherSocketIO:
            process.executableURL = URL(fileURLWithPath: tether)
            process.arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--log-level", "notice",
                                 "--store", kind == .tetherSQLite ? "sqlite" : "memory", "--state-dir", directory + "/state"]
            // No publish rate limit and a lag cap above any run (the figures are about delivery,
            // not gaps); no connection caps, so 10,000 idle connections from one address fit.
            environment["TETHER_LIMITS_PUBLISH_RATE"] = "0"
            environment["TETHER_LAG_CAP"] = "1000000"
            environment["TETHER_LIMITS_MAX_CONNECTIONS"] = "0"
            environment["TETHER_LIMITS_MAX_CONNECTIONS_PER_ADDRESS"] = "0"
            environment["TETHER_LIMITS_IDLE_TIMEOUT"] = "600"
            // Analysis only: e.g. the malloc counter (Benchmarks/MallocCount), for the relay alone.
            if let preload = environment["PEER_BENCH_TETHER_PRELOAD"] { environment["LD_PRELOAD"] = preload }
        case .mosquitto:
            let config = """
                listener \(port) 127.0.0.1
                allow_anonymous true
                persistence true
                persistence_location \(directory)/
                max_connections -1
                max_inflight_messages 256
                max_queued_messages 0
                log_type error
                log_dest stderr

                """
            try config.write(toFile: directory + "/mosquitto.conf", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
            process.arguments = ["-c", directory + "/mosquitto.conf"]
        case .nats:
            process.executableURL = URL(fileURLWithPath: Self.which("nats-server"))
            process.arguments = ["-a", "127.0.0.1", "-p", "\(port)", "-js", "-sd", directory + "/jetstream"]
        }
        process.environment = environment
        try process.run()
        Children.started(process.processIdentifier)
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard process.isRunning else { break }
            if kind.isTether {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if let range = text.range(of: "listening on http://127.0.0.1:") {
                    port = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
                    if port > 0 { return }
                }
            } else if Self.accepts(port: port) {
                return
            }
            usleep(20_000)
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        kill9()
        throw PeerError("\(kind.rawValue) did not start: \(text.suffix(500))")
    }

    /// SIGKILL, then start again on the same port and data directory.
    func restartAfterKill(tether: String) throws {
        kill9()
        if kind.isTether { port = 0 }
        try launch(tether: tether)
    }

    /// utime + stime of the server process so far, in seconds.
    func cpuSeconds() -> Double {
        let (user, system) = cpuSplit()
        return user + system
    }

    /// utime and stime of the server process so far, in seconds.
    func cpuSplit() -> (user: Double, system: Double) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return (.nan, .nan) }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the ")" come field 3 (state) onwards: utime is field 14, stime 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return (.nan, .nan) }
        return (user / Self.ticksPerSecond, system / Self.ticksPerSecond)
    }

    /// Resident set size in KB (VmRSS).
    func rssKB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        return Int(line.split(separator: " ")[1]) ?? -1
    }

    func kill9() {
        defer { Children.ended(pid) }
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGKILL after 5 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        kill9()
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func which(_ name: String) -> String {
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return name
    }

    /// One line for the report: what each server is.
    static func version(of kind: Kind, tether: String) -> String {
        switch kind {
        case .tetherMemory, .tetherSQLite, .tetherSSE, .tetherSocketIO:
            // What the binary under test says it was built from, not the checkout's HEAD: a
            // before/after pair runs binaries built from other commits (the report used to name
            // the checkout's commit for both).
            let version = run(tether, ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
            return version.isEmpty ? "tether (\(tether) gave no --version)" : "tether \(version)"
        case .mosquitto:
            return run("/usr/sbin/mosquitto", ["-h"]).split(separator: "\n").first.map(String.init) ?? "mosquitto"
        case .nats:
            return run(which("nats-server"), ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    static func run(_ path: String, _ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
