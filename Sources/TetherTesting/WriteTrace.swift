import Foundation

extension RelayProcess {
    /// Traces the relay's write system calls (`write`, `writev`, `sendmsg`, `sendto`, first 64
    /// bytes of each) with strace while `body` runs; returns the trace's lines. For tests that
    /// count how many calls carried what the relay wrote.
    public func tracingWrites(during body: () async throws -> Void) async throws -> [String] {
        let pid = process.processIdentifier
        let output = try temporaryDirectory(prefix: "strace").appendingPathComponent("trace").path
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = ["-f", "-qq", "-e", "trace=write,writev,sendmsg,sendto", "-s", "64", "-o", output, "-p", "\(pid)"]
        strace.standardError = FileHandle.nullDevice
        try strace.run()
        // Attached once every thread of the relay names a tracer.
        let deadline = Date().addingTimeInterval(20)
        while !Self.traced(pid) {
            guard Date() < deadline else { throw RelayProcessError("strace did not attach to every thread of the relay within 20 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await body()
        strace.interrupt()
        _ = await strace.exitStatus(within: 10)
        return (try String(contentsOfFile: output, encoding: .utf8)).split(separator: "\n").map(String.init)
    }

    private static func traced(_ pid: Int32) -> Bool {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return !tasks.isEmpty && tasks.allSatisfy { task in
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").contains { $0.hasPrefix("TracerPid:") && !$0.hasSuffix("\t0") }
        }
    }
}
