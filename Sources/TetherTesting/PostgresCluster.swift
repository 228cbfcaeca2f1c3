import Foundation
import Synchronization

/// A throw-away PostgreSQL cluster for tests: `initdb` and `pg_ctl` run as the `postgres` OS user
/// (tests run as root, and PostgreSQL refuses to run as root) in a temporary directory, listening
/// on a free port on 127.0.0.1 only, with its unix socket in that directory. Trust
/// authentication, so URLs need no password. ``stop()`` stops it and removes the directory.
///
/// ```swift
/// let cluster = try await PostgresCluster.start()
/// defer { cluster.stop() }
/// let url = try cluster.createDatabase("t1")   // postgres://postgres@127.0.0.1:PORT/t1
/// ```
public final class PostgresCluster: Sendable {
    public let directory: String
    public let port: Int
    public var dataDirectory: String { directory + "/data" }

    private init(directory: String, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// Whether the PostgreSQL server binaries (`initdb`, `pg_ctl`) are installed.
    public static var isAvailable: Bool { (try? binary("initdb")) != nil && (try? binary("pg_ctl")) != nil }

    /// One cluster per test process, started on first use and stopped when the process exits,
    /// for tests that each work in their own database (``createDatabase(_:)``).
    public static func shared() async throws -> PostgresCluster {
        try await SharedCluster.task.value
    }

    /// Creates and starts a cluster. Throws with the tools' output if either step fails.
    ///
    /// - Parameter durable: keep `fsync` on (benchmarks of durable publish). Tests turn it off:
    ///   they test ordering and recovery, not the disk.
    public static func start(durable: Bool = false) async throws -> PostgresCluster {
        let directory = "/tmp/tether-pg-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try FreePort.next()
        let cluster = PostgresCluster(directory: directory, port: port)
        do {
            _ = try await Command.run("/bin/chown", ["postgres:postgres", directory])
            try cluster.asPostgres(binary("initdb"), ["-D", cluster.dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            let settings = """
                listen_addresses = '127.0.0.1'
                port = \(port)
                unix_socket_directories = '\(directory)'
                fsync = \(durable ? "on" : "off")
                max_connections = 200
                """
            let conf = cluster.dataDirectory + "/postgresql.conf"
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: conf))
            handle.seekToEndOfFile()
            handle.write(Data(("\n" + settings + "\n").utf8))
            try handle.close()
            try cluster.pgctl(["start", "-w", "-t", "60"])
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    public func url(database: String = "postgres") -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)"
    }

    /// Creates a database and returns its URL.
    public func createDatabase(_ name: String) throws -> String {
        try asPostgres(Self.binary("createdb"), ["-h", directory, "-p", "\(port)", "-U", "postgres", name])
        return url(database: name)
    }

    /// Runs SQL with `psql` and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try asPostgres(Self.binary("psql"), ["-h", directory, "-p", "\(port)", "-U", "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// `pg_ctl restart`: every connection is cut, and the server is back when this returns.
    public func restart() throws {
        try pgctl(["restart", "-w", "-t", "60", "-m", "fast"])
    }

    /// `pg_ctl stop -m fast` (for a test of an outage; ``start()`` a new one afterwards with `resume`).
    public func pause() throws {
        try pgctl(["stop", "-w", "-t", "60", "-m", "fast"])
    }

    /// `pg_ctl stop -m immediate`: the server dies without writing what it holds in memory (WAL
    /// not yet written, as in a crash of PostgreSQL); ``resume()`` starts it again, and it
    /// recovers from what its WAL holds.
    public func crash() throws {
        try pgctl(["stop", "-w", "-t", "60", "-m", "immediate"])
    }

    /// Starts a cluster stopped by ``pause()`` or ``crash()`` again, on the same port.
    public func resume() throws {
        try pgctl(["start", "-w", "-t", "60"])
    }

    /// Stops the server (immediately) and removes the directory. Safe to call twice.
    public func stop() {
        _ = try? pgctl(["stop", "-w", "-t", "30", "-m", "immediate"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func pgctl(_ arguments: [String]) throws {
        try asPostgres(Self.binary("pg_ctl"), ["-D", dataDirectory, "-l", directory + "/server.log", "-s"] + arguments)
    }

    /// Runs a tool as the `postgres` user; throws with its output when it fails.
    ///
    /// Spawned with `posix_spawn` and reaped with `waitpid`, output to a file: with Foundation's
    /// `Process`, `runuser` around `pg_ctl start` (which leaves a daemon behind) was seen to
    /// stay a zombie that `waitUntilExit()` never noticed, and a pipe would be held open by the
    /// server forever.
    @discardableResult
    private func asPostgres(_ tool: String, _ arguments: [String]) throws -> String {
        let argv = getuid() == 0 ? [ExternalTool.find("runuser") ?? "/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        let outputPath = "\(directory)/tool-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw RelayProcessError("could not start \(argv[0]): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the C macros are not imported).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw RelayProcessError("\((tool as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed (status \(status)):\n\(text)\n\(log.suffix(2000))")
        }
        return text
    }

    /// A PostgreSQL binary from PATH or Debian's versioned directory.
    static func binary(_ name: String) throws -> String {
        if let found = ExternalTool.find(name) { return found }
        let debian = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in debian.sorted(by: >) {
            let path = "/usr/lib/postgresql/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw RelayProcessError("\(name) not found: install PostgreSQL (scripts/ensure-deps.sh test installs Debian's postgresql)")
    }
}

private enum SharedCluster {
    static let task = Task { () throws -> PostgresCluster in
        let cluster = try await PostgresCluster.start()
        SharedCluster.started.withLock { $0 = cluster }
        atexit { SharedCluster.started.withLock { $0 }?.stop() }
        return cluster
    }
    static let started = Mutex<PostgresCluster?>(nil)
}
