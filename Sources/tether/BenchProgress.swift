import Foundation
import Synchronization
import TetherCore

/// The benchmark's subscriber processes, so a signal can end them. Owned by a `Mutex`.
final class BenchChildren: Sendable {
    static let shared = BenchChildren()

    private let pids = Mutex<Set<pid_t>>([])

    /// Starts `process` and records its pid under the lock the signal handler takes, so a
    /// signal arriving meanwhile waits and then ends it too.
    func run(_ process: Process) throws {
        try pids.withLock { pids in
            try process.run()
            pids.insert(process.processIdentifier)
        }
    }
    func remove(_ list: [pid_t]) { pids.withLock { $0.subtract(list) } }

    /// On SIGINT or SIGTERM: end every subscriber process, say so, and exit 130 or 143 (128 + the
    /// signal), as a shell reports a command a signal stopped. The benchmark waits in blocking
    /// reads of its children's pipes, so the signal is handled on Dispatch's own queue. The
    /// caller keeps the returned sources alive for as long as signals should be handled.
    func stopOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                let children = pids.withLock { $0 }
                for pid in children { kill(pid, SIGTERM) }
                let name = number == SIGINT ? "SIGINT" : "SIGTERM"
                FileHandle.standardError.write(Data("tether: bench stopped by \(name); ended \(counted(children.count, "subscriber process", plural: "subscriber processes"))\n".utf8))
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}

/// Progress on stderr, one line per round: what it measures, then how long it took and an
/// estimate of the time left (the mean round so far times the rounds left).
struct BenchProgress {
    let rounds: Int
    private var done = 0
    private var started = Date()
    private let begun = Date()

    init(rounds: Int) { self.rounds = rounds }

    mutating func start(_ what: String) {
        started = Date()
        note("[\(done + 1)/\(rounds)] \(what) ...")
    }

    mutating func finish() {
        done += 1
        let took = Date().timeIntervalSince(started)
        let mean = Date().timeIntervalSince(begun) / Double(done)
        let left = rounds - done
        let eta = left > 0 ? ", about \(Self.span(mean * Double(left))) left" : ", all done"
        note("[\(done)/\(rounds)] done in \(Self.span(took))\(eta)")
    }

    private func note(_ line: String) {
        FileHandle.standardError.write(Data("tether: bench \(line)\n".utf8))
    }

    static func span(_ seconds: Double) -> String {
        seconds < 60 ? String(format: "%.1f s", seconds) : "\(Int(seconds) / 60) min \(Int(seconds) % 60) s"
    }
}
