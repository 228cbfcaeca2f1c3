import Foundation
import Testing
import TetherTesting

/// The shipped units pass `systemd-analyze verify` (with ExecStart= pointing at the built binary)
/// and stay hardened: `systemd-analyze security --offline=true` scores tether.service at most 1.1.
/// The crash path ends the process (no backtracer under the sandbox), the syscall filter allows
/// what the runtime calls, and the file limit fits the default connection limit.
@Suite("deploy/systemd units")
struct UnitFileTests {
    static let maximumExposure = 1.1

    /// A copy of deploy/systemd with ExecStart= and ExecReload= naming the binary under test.
    static func installedCopy() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tether-units-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["tether.service", "tether.socket"] {
            var text = try String(contentsOf: packageRoot.appendingPathComponent("deploy/systemd/\(name)"), encoding: .utf8)
            text = text.replacingOccurrences(of: "/usr/bin/tether", with: RelayProcess.binary.path)
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    static func analyze(_ arguments: [String], in directory: URL) async throws -> (status: Int32, output: String) {
        let result = try await Command.run("/usr/bin/systemd-analyze", arguments, directory: directory)
        return (result.status, result.output)
    }

    @Test func unitsVerify() async throws {
        let directory = try Self.installedCopy()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.analyze(["verify", "--man=no", directory.appendingPathComponent("tether.service").path, directory.appendingPathComponent("tether.socket").path], in: directory)
        #expect(result.status == 0, "\(result.output)")
        // verify prints problems as warnings without failing for some of them: none expected.
        let problems = result.output.split(separator: "\n").filter { !$0.contains("Failed to connect") }
        #expect(problems.isEmpty, "\(result.output)")
    }

    @Test func serviceExposureIsAtMostOnePointOne() async throws {
        let directory = try Self.installedCopy()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.analyze(["security", "--offline=true", "--no-pager", directory.appendingPathComponent("tether.service").path], in: directory)
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(result.output)")
        // "→ Overall exposure level for tether.service: 1.2 OK 🙂"
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        let exposure = try #require(score, "cannot read a score from \(line)")
        #expect(exposure <= Self.maximumExposure, "\(result.output)")
    }

    /// The values of every `Key=` line of the shipped tether.service, in order.
    static func settings(_ key: String) throws -> [String] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("deploy/systemd/tether.service"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            line.hasPrefix("\(key)=") ? String(line.dropFirst(key.count + 1)) : nil
        }
    }

    /// The system calls a `SystemCallFilter=` allow list with later `~` removals and additions
    /// leaves allowed, expanded with `systemd-analyze syscall-filter` as systemd applies them.
    static func allowedSystemCalls(_ filters: [String]) async throws -> Set<String> {
        var allowed: Set<String> = []
        for filter in filters {
            let deny = filter.hasPrefix("~")
            let names = filter.dropFirst(deny ? 1 : 0).split(separator: " ").map(String.init)
            var expanded: Set<String> = []
            for name in names { expanded.formUnion(try await expand(name)) }
            if deny { allowed.subtract(expanded) } else { allowed.formUnion(expanded) }
        }
        return allowed
    }

    /// A system call, or a `@group` with the groups it includes, as `systemd-analyze` lists it.
    static func expand(_ name: String) async throws -> Set<String> {
        guard name.hasPrefix("@") else { return [name] }
        let result = try await Command.run("/usr/bin/systemd-analyze", ["syscall-filter", "--no-pager", name])
        var calls: Set<String> = []
        // The first line names the group itself; the rest are calls, included groups and comments.
        for line in result.output.split(separator: "\n").dropFirst() {
            let word = line.trimmingCharacters(in: .whitespaces)
            if word.isEmpty || word.hasPrefix("#") || word.contains(" ") { continue }
            if word.hasPrefix("@") { calls.formUnion(try await expand(word)) } else { calls.insert(word) }
        }
        return calls
    }

    @Test func syscallFilterAllowsWhatTheRuntimeCalls() async throws {
        let allowed = try await Self.allowedSystemCalls(try Self.settings("SystemCallFilter"))
        // libdispatch sets worker thread priorities; the relay raises RLIMIT_NOFILE (prlimit64).
        for call in ["setpriority", "getpriority", "prlimit64", "sched_getattr", "sched_yield"] {
            #expect(allowed.contains(call), "\(call) is denied by SystemCallFilter=")
        }
        // Still denied: what the relay has no use for.
        for call in ["reboot", "setuid", "sched_setaffinity", "ioprio_set"] {
            #expect(!allowed.contains(call), "\(call) is allowed by SystemCallFilter=")
        }
    }

    @Test func fileLimitFitsTheDefaultConnectionLimit() throws {
        let limit = try #require(try Self.settings("LimitNOFILE").last.flatMap { Int($0) }, "no numeric LimitNOFILE=")
        // limits.max-connections defaults to 10,000 (a descriptor each) plus the store and listeners.
        #expect(limit >= 10_000 + 1_024)
    }

    /// The watchdog's SIGABRT ends the relay at once under the unit's environment: the Swift
    /// backtracer is not started (it cannot under MemoryDenyWriteExecute=, and the process then
    /// hung), and TimeoutAbortSec= bounds a hung abort anyway.
    @Test func sigabrtEndsTheRelayUnderTheUnitsEnvironment() async throws {
        let environment = try Self.settings("Environment")
        #expect(environment.contains("SWIFT_BACKTRACE=enable=no"), "\(environment)")
        let abort = try #require(try Self.settings("TimeoutAbortSec").last, "no TimeoutAbortSec=")
        let seconds = try #require(Double(abort.replacingOccurrences(of: "s", with: "")), "TimeoutAbortSec=\(abort) is not in seconds")
        #expect(seconds <= 10)

        var variables: [String: String] = [:]
        for assignment in environment {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { variables[parts[0]] = parts[1] }
        }
        // The unit's configuration file is the package's conffile; here, its source.
        if variables["TETHER_CONFIG"] == "/etc/tether/tether.json" {
            variables["TETHER_CONFIG"] = packageRoot.appendingPathComponent("deploy/debian/tether.json").path
        }
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: variables)
        relay.signal(SIGABRT)
        // waitForExit sends SIGKILL past its deadline, so a hang shows up as status 9.
        let status = await relay.waitForExit(timeout: seconds)
        #expect(relay.process.terminationReason == .uncaughtSignal && status == SIGABRT, "exit status \(status); log:\n\(relay.log.suffix(2000))")
    }
}
