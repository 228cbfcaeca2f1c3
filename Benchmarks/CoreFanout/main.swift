// The core publish → fan-out path, in process: one producer publishes batches through the relay
// (memory store), S subscribers read through their cursors and ack every batch. Reports events/s
// through the core and deliveries/s, median of several runs with the range.
//
// Usage: tether-core-bench [--events N] [--runs R] [--subscribers 1,10,100] [--smoke=1]
import Foundation
import Logging
import MemoryStore
import TetherCore

struct Options {
    var events = 1_000_000
    var runs = 5
    var subscribers = [1, 10, 100]
    var batch = 256

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--events": events = Int(iterator.next() ?? "") ?? events
            case "--runs": runs = Int(iterator.next() ?? "") ?? runs
            case "--subscribers": subscribers = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--smoke=1": events = 20_000; runs = 1
            case "--smoke=0": break
            default: FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8)); exit(2)
            }
        }
    }
}

func run(subscribers count: Int, options: Options) async throws -> Double {
    var configuration = RelayConfiguration()
    // Retain and cache every event, and no lag cap: this measures fan-out, not slow-consumer gaps.
    configuration.retention = RetentionPolicy(ttl: 3600, maxEvents: options.events + 1, maxBytes: 1 << 34)
    configuration.lagCap = options.events + 1
    configuration.window = 4096
    configuration.recentEvents = options.events + 1
    configuration.recentBytes = 1 << 34
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let relay = Relay(store: MemoryBufferStore(configuration: .init(retention: configuration.retention)), configuration: configuration, logger: logger)
    try await relay.start()
    var sessions: [Session] = []
    for index in 0..<count {
        sessions.append(try await relay.subscribe(Hello(clientID: "bench-\(index)"), transport: "bench", remote: "local"))
    }
    let payload = Array(#"{"kind":"tick","value":12345,"source":"bench","tags":["a","b","c"],"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#.utf8)
    let batch = (0..<options.batch).map { _ in EventDraft(topic: "bench", data: payload) }
    let total = UInt64(options.events / options.batch * options.batch)
    let window = configuration.window
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for session in sessions {
            group.addTask {
                var buffer: [Event] = []
                buffer.reserveCapacity(window)
                var last: UInt64 = 0
                while last < total {
                    buffer.removeAll(keepingCapacity: true)
                    if case .gap(let gap) = try await session.next(into: &buffer) {
                        fatalError("unexpected gap \(gap) in the benchmark")
                    }
                    last = buffer.last?.seq ?? last
                    try session.ack(last)
                }
            }
        }
        group.addTask {
            var published: UInt64 = 0
            while published < total {
                published = try await relay.publish(batch).last ?? published
            }
        }
        try await group.waitForAll()
    }
    let elapsed = start.duration(to: .now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    for session in sessions { session.close(reason: "benchmark done") }
    return Double(total) / seconds
}

let options = Options(CommandLine.arguments)
print("## Core fan-out (in process)\n")
print("One producer publishes \(options.events) events of ~200 bytes in batches of \(options.batch) through the relay core")
print("(memory store); S subscribers read through their cursors and ack each batch. Median of \(options.runs) runs [min–max].\n")
print("| subscribers | events/s through the core | deliveries/s |")
print("|---:|---:|---:|")
var raw: [[String: Any]] = []
for count in options.subscribers {
    var rates: [Double] = []
    for runIndex in 0..<options.runs {
        FileHandle.standardError.write(Data("core fan-out: \(count) subscribers, run \(runIndex + 1)/\(options.runs)\n".utf8))
        rates.append(try await run(subscribers: count, options: options))
    }
    rates.sort()
    let median = rates[rates.count / 2]
    func format(_ value: Double) -> String { String(format: "%.2fM", value / 1e6) }
    print("| \(count) | \(format(median)) [\(format(rates.first!))–\(format(rates.last!))] | \(format(median * Double(count))) |")
    raw.append(["subscribers": count, "events_per_second": rates])
}
let json = try JSONSerialization.data(withJSONObject: ["benchmark": "core-fanout", "events": options.events, "runs": raw], options: [.sortedKeys])
try? json.write(to: URL(fileURLWithPath: "bench-results/core-fanout.json"))
