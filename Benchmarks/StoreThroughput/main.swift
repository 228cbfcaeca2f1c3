// tether-store-bench: durable publish throughput through the relay's group commit (SQLite with
// synchronous FULL and NORMAL, against the memory store in the same run), replay read
// throughput, and start-to-ready with 100k retained events. Prints Markdown for BENCHMARKS.md
// and writes the raw runs to bench-results/store-throughput.json.
//
// Usage: tether-store-bench [--smoke=1] [--runs=N] [--seconds=S]
import Foundation
import MemoryStore
import SQLiteStore
import TetherCore

struct Options {
    var smoke = false
    var runs = 3
    var seconds = 3.0

    init(arguments: [String]) {
        for argument in arguments.dropFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let value = parts.count == 2 ? parts[1] : ""
            switch parts[0] {
            case "--smoke": smoke = value != "0"
            case "--runs": runs = max(1, Int(value) ?? runs)
            case "--seconds": seconds = max(0.1, Double(value) ?? seconds)
            default:
                FileHandle.standardError.write(Data("unknown option \(argument)\n".utf8))
                exit(2)
            }
        }
        if smoke {
            runs = 1
            seconds = 0.3
        }
    }
}

/// Median and range of repeated measurements.
struct Summary: Encodable {
    var samples: [Double]
    var median: Double { samples.sorted()[samples.count / 2] }
    var low: Double { samples.min() ?? 0 }
    var high: Double { samples.max() ?? 0 }
}

enum StoreKind: String, CaseIterable, Encodable {
    case sqliteFull = "sqlite (synchronous=full)"
    case sqliteNormal = "sqlite (synchronous=normal)"
    case memory = "memory"

    func make(in directory: URL, retention: RetentionPolicy) -> any BufferStore {
        let path = directory.appendingPathComponent("tether.sqlite").path
        switch self {
        case .sqliteFull: return SQLiteBufferStore(configuration: .init(path: path, retention: retention, synchronous: .full))
        case .sqliteNormal: return SQLiteBufferStore(configuration: .init(path: path, retention: retention, synchronous: .normal))
        case .memory: return MemoryBufferStore(configuration: .init(retention: retention))
        }
    }
}

func freshDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tether-store-bench-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func payload(_ n: Int) -> [UInt8] {
    Array("{\"n\":\(n),\"host\":\"web-01\",\"level\":\"info\",\"msg\":\"request served\",\"ms\":12.5,\"path\":\"/api/v1/items\"}".utf8)
}

/// Events/s accepted by a relay over `kind` while `producers` tasks each publish requests of
/// `batch` events back to back for `seconds`.
func publishRate(_ kind: StoreKind, producers: Int, batch: Int, seconds: Double) async throws -> Double {
    let directory = try freshDirectory("publish")
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = kind.make(in: directory, retention: RetentionPolicy())
    let relay = Relay(store: store)
    try await relay.start()
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for producer in 0..<producers {
            group.addTask {
                var sent = 0
                while ContinuousClock.now < deadline {
                    let drafts = (0..<batch).map { EventDraft(topic: "bench", data: payload(producer * 1_000_000 + sent + $0)) }
                    _ = try await relay.publish(drafts)
                    sent += batch
                }
                return sent
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = ContinuousClock.now - start
    try await store.close()
    return Double(total) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// A database with `count` retained events, closed.
func populate(_ path: String, count: Int) async throws {
    let store = SQLiteBufferStore(configuration: .init(path: path, retention: RetentionPolicy(ttl: 86_400, maxEvents: count, maxBytes: 1 << 40)))
    _ = try await store.open()
    var next = 0
    while next < count {
        let size = min(4096, count - next)
        _ = try await store.append((next..<(next + size)).map { EventDraft(topic: "bench", data: payload($0)) })
        next += size
    }
    try await store.close()
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

let options = Options(arguments: CommandLine.arguments)
var results: [String: Summary] = [:]
var lines: [String] = []
let retained = options.smoke ? 5_000 : 100_000

// 1. Publish throughput through the relay's group commit.
lines.append("| store | producers | events per request | events/s (median) | range |")
lines.append("|---|---:|---:|---:|---|")
for batch in [1, 100] {
    for producers in [1, 8] {
        for kind in StoreKind.allCases {
            var samples: [Double] = []
            for _ in 0..<options.runs {
                samples.append(try await publishRate(kind, producers: producers, batch: batch, seconds: options.seconds))
            }
            let summary = Summary(samples: samples)
            results["publish \(kind.rawValue) p=\(producers) b=\(batch)"] = summary
            lines.append("| \(kind.rawValue) | \(producers) | \(batch) | \(Int(summary.median)) | \(Int(summary.low))–\(Int(summary.high)) |")
            FileHandle.standardError.write(Data("bench: \(lines.last!)\n".utf8))
        }
    }
}

// 2. Start-to-ready and replay over a database with `retained` events.
let directory = try freshDirectory("retained")
defer { try? FileManager.default.removeItem(at: directory) }
let path = directory.appendingPathComponent("tether.sqlite").path
try await populate(path, count: retained)
let fileBytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0

var startSamples: [String: [Double]] = [:]
var replaySamples: [Double] = []
for _ in 0..<options.runs {
    for check in [true, false] {
        let clock = ContinuousClock.now
        let store = SQLiteBufferStore(configuration: .init(path: path, retention: RetentionPolicy(ttl: 86_400, maxEvents: retained, maxBytes: 1 << 40), checkOnOpen: check))
        let relay = Relay(store: store)
        try await relay.start()
        startSamples[check ? "quick_check" : "none", default: []].append(seconds(ContinuousClock.now - clock) * 1000)
        precondition(relay.logState.depthEvents == retained, "expected \(retained) retained events, got \(relay.logState)")
        if check {
            // Replay: read the whole retained log in pages, as a resuming client's session does.
            let replayStart = ContinuousClock.now
            var after: UInt64 = 0
            var read = 0
            while true {
                let page = try await store.read(after: after, limit: 1024)
                guard let last = page.last else { break }
                read += page.count
                after = last.seq
            }
            precondition(read == retained)
            replaySamples.append(Double(read) / seconds(ContinuousClock.now - replayStart))
        }
        try await store.close()
    }
}
let quick = Summary(samples: startSamples["quick_check"]!)
let unchecked = Summary(samples: startSamples["none"]!)
let replay = Summary(samples: replaySamples)
results["start-to-ready ms (quick_check)"] = quick
results["start-to-ready ms (no check)"] = unchecked
results["replay events/s"] = replay

lines.append("")
lines.append("With \(retained) retained events (\(fileBytes / 1_048_576) MiB database):")
lines.append("")
lines.append("| measure | median | range |")
lines.append("|---|---:|---|")
lines.append(String(format: "| start to ready (store open + relay start), check-on-open=quick | %.0f ms | %.0f–%.0f ms |", quick.median, quick.low, quick.high))
lines.append(String(format: "| start to ready, check-on-open=none | %.0f ms | %.0f–%.0f ms |", unchecked.median, unchecked.low, unchecked.high))
lines.append("| replay read (store.read, pages of 1024) | \(Int(replay.median)) events/s | \(Int(replay.low))–\(Int(replay.high)) |")
print(lines.joined(separator: "\n"))

if FileManager.default.fileExists(atPath: "bench-results") {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: "bench-results/store-throughput.json"))
}
