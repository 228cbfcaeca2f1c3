import NIOCore

/// The tallies of one subscriber process, confined to its one event loop.
final class SubscriberState: @unchecked Sendable {
    var tallies: [Tally]
    var completed = 0
    var errors: [String] = []
    let done: EventLoopPromise<Void>

    init(count: Int, events: Int, latencies: Bool, loop: any EventLoop) {
        tallies = (0..<count).map { _ in Tally(expected: events, latencies: latencies) }
        done = loop.makePromise()
    }

    func record(_ index: Int, _ frame: ByteBuffer) {
        if tallies[index].record(frame) {
            completed += 1
            if completed == tallies.count { done.succeed() }
        }
    }

    func error(_ message: String) {
        if errors.count < 5 { errors.append(message) }
    }

    func finish() { done.succeed() }

    /// The process's report; `frames` counts the frames that carried events (0 where the
    /// protocol's client does not count them).
    func result(cpu: Double, frames: Int) -> [String: Any] {
        var result: [String: Any] = [
            "frames": frames,
            "received": tallies.reduce(0) { $0 + $1.unique },
            "missing": tallies.reduce(0) { $0 + $1.missing },
            "duplicates": tallies.reduce(0) { $0 + $1.duplicates },
            "out_of_order": tallies.reduce(0) { $0 + $1.outOfOrder },
            "last_micros": tallies.map(\.lastMicros).max() ?? 0,
            "cpu_seconds": cpu,
            "errors": errors,
        ]
        let samples = tallies.flatMap { $0.latenciesMS ?? [] }
        if !samples.isEmpty { result["latencies_ms"] = samples }
        return result
    }
}
