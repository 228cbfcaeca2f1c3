// The PostgreSQL store under relays in this process, against a throw-away local cluster with fsync
// on (durable commits): each relay has its own store, pool and LogFollower, as separate
// `tether serve` processes would.
//
// 1. Durable publish: P producers, each publishing one event per call (the relay group-commits
//    concurrent calls into one transaction), through one relay and through two relays sharing
//    the log. Events/s = events answered / wall time; median of R runs.
// 2. Durable batches (issue 18): 1 and 3 relays in the same run, 2 producers per relay, each
//    publishing batches of `--batch` events (100) with producer ids, until `--batch-events` events
//    are answered or `--batch-seconds` pass. Events/s = events answered / wall time; median of R
//    runs. Meanwhile a `WaitSampler` samples `pg_stat_activity` every 10 ms: the lock-wait share
//    is the share of busy-backend samples waiting on a heavyweight lock.
// 3. Cross-relay delivery latency: one producer publishes single events on relay A at a steady
//    pace; a subscriber on relay B receives them (NOTIFY → read → fan-out). Latency = from just
//    before A's publish call to B's session handing the event over; p50 and p99.
//
// Usage: tether-postgres-bench [--events N] [--producers P] [--runs R] [--batch-events N]
//        [--batch B] [--batch-seconds S] [--smoke=1]
import Foundation
import Logging
import PostgresStore
import Synchronization
import TetherCore
import TetherTesting

struct Options {
    var events = 20_000
    var producers = 64
    var runs = 3
    var latencyEvents = 2_000
    var batchEvents = 60_000
    var batch = 100
    var batchSeconds = 30.0

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--events": events = Int(iterator.next() ?? "") ?? events
            case "--producers": producers = Int(iterator.next() ?? "") ?? producers
            case "--runs": runs = Int(iterator.next() ?? "") ?? runs
            case "--batch-events": batchEvents = Int(iterator.next() ?? "") ?? batchEvents
            case "--batch": batch = Int(iterator.next() ?? "") ?? batch
            case "--batch-seconds": batchSeconds = Double(iterator.next() ?? "") ?? batchSeconds
            case "--smoke=1": events = 500; runs = 1; latencyEvents = 100; batchEvents = 2_000; batchSeconds = 10
            case "--smoke=0": break
            default: FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8)); exit(2)
            }
        }
    }
}

let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    return logger
}()

/// A relay over the database at `url`, with its follower running.
func makeRelay(_ url: String) async throws -> (Relay, Task<Void, any Error>) {
    var configuration = RelayConfiguration()
    configuration.retention = RetentionPolicy(ttl: 3600, maxEvents: 10_000_000, maxBytes: 1 << 34)
    configuration.lagCap = 1_000_000
    configuration.window = 4096
    var storeConfiguration = try PostgresBufferStore.Configuration(url: url, retention: configuration.retention)
    storeConfiguration.poolSize = 4
    storeConfiguration.operationTimeout = .seconds(30)
    let store = PostgresBufferStore(configuration: storeConfiguration, logger: logger)
    let relay = Relay(store: store, configuration: configuration, logger: logger)
    try await relay.start()
    let follower = Task { try await LogFollower(relay: relay, store: store).run() }
    return (relay, follower)
}

func stop(_ relays: [(Relay, Task<Void, any Error>)]) async {
    for (relay, follower) in relays {
        follower.cancel()
        _ = await follower.result
        try? await relay.store.close()
    }
}

/// Events/s of `options.events` single-event publishes from `options.producers` producers,
/// spread round-robin over `relays`.
func publishRate(relays count: Int, cluster: PostgresCluster, run: Int, options: Options) async throws -> Double {
    let url = try cluster.createDatabase("publish_\(count)_\(run)")
    var relays: [(Relay, Task<Void, any Error>)] = []
    for _ in 0..<count { relays.append(try await makeRelay(url)) }
    let payload = Array(#"{"sensor":"s-17","value":21.5,"unit":"C"}"#.utf8)
    let perProducer = options.events / options.producers
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for producer in 0..<options.producers {
            let relay = relays[producer % count].0
            group.addTask {
                for _ in 0..<perProducer { _ = try await relay.publish([EventDraft(topic: "bench", data: payload)]) }
            }
        }
        try await group.waitForAll()
    }
    let seconds = (ContinuousClock.now - start).seconds
    await stop(relays)
    return Double(perProducer * options.producers) / seconds
}

/// One run of durable batches through `count` relays: events/s and where the backends waited.
func batchRate(relays count: Int, cluster: PostgresCluster, run: Int, options: Options) async throws -> (Double, WaitSampler.Counts, CPUUsage, Int) {
    let url = try cluster.createDatabase("batch_\(count)_\(run)")
    var relays: [(Relay, Task<Void, any Error>)] = []
    for _ in 0..<count { relays.append(try await makeRelay(url)) }
    let payload = Array(#"{"sensor":"s-17","value":21.5,"unit":"C"}"#.utf8)
    let producers = 2 * count
    let batches = max(1, options.batchEvents / (producers * options.batch))
    let deadline = ContinuousClock.now + .milliseconds(Int64(options.batchSeconds * 1000))
    let sampler = try WaitSampler(url: url, logger: logger)
    let cpu = CPUUsage.sample(postgresDataDirectory: cluster.dataDirectory)
    let start = ContinuousClock.now
    let answered = try await withThrowingTaskGroup(of: Int.self) { group in
        for producer in 0..<producers {
            let relay = relays[producer % count].0
            group.addTask {
                var sent = 0
                for number in 0..<batches where ContinuousClock.now < deadline {
                    let drafts = (0..<options.batch).map { EventDraft(topic: "bench", data: payload, producerID: "p\(producer)-\(number)-\($0)") }
                    sent += try await relay.publish(drafts).count
                }
                return sent
            }
        }
        return try await group.reduce(0, +)
    }
    let seconds = (ContinuousClock.now - start).seconds
    let used = CPUUsage.since(cpu, postgresDataDirectory: cluster.dataDirectory)
    let waits = await sampler.finish()
    await stop(relays)
    return (Double(answered) / seconds, waits, used, answered)
}

/// Publish-on-A to delivered-on-B latencies in seconds, sorted.
func crossRelayLatency(cluster: PostgresCluster, options: Options) async throws -> [Double] {
    let url = try cluster.createDatabase("latency")
    let a = try await makeRelay(url)
    let b = try await makeRelay(url)
    let session = try await b.0.subscribe(Hello(), transport: "bench", remote: "bench")
    let sent = Mutex<[UInt64: ContinuousClock.Instant]>([:])
    let payload = Array("1".utf8)
    let total = options.latencyEvents
    let producer = Task {
        for _ in 0..<total {
            let before = ContinuousClock.now
            let seq = try await a.0.publish([EventDraft(topic: "bench", data: payload)])[0]
            sent.withLock { $0[seq] = before }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
    var received: [(UInt64, ContinuousClock.Instant)] = []
    var buffer: [Event] = []
    while received.count < total {
        buffer.removeAll(keepingCapacity: true)
        _ = try await session.next(into: &buffer)
        let now = ContinuousClock.now
        received += buffer.map { ($0.seq, now) }
        if let last = buffer.last { try session.ack(last.seq) }
    }
    try await producer.value
    let starts = sent.withLock { $0 }
    await stop([a, b])
    return received.compactMap { seq, at in starts[seq].map { (at - $0).seconds } }.sorted()
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
}

func format(_ value: Double) -> String { String(format: "%.0f", value) }
func millis(_ value: Double) -> String { String(format: "%.1f ms", value * 1000) }

let options = Options(CommandLine.arguments)
let cluster = try await PostgresCluster.start(durable: true)
defer { cluster.stop() }
var rows: [String] = []
var raw: [String: Any] = ["events": options.events, "producers": options.producers, "runs": options.runs]
for count in [1, 2] {
    var rates: [Double] = []
    for run in 0..<options.runs { rates.append(try await publishRate(relays: count, cluster: cluster, run: run, options: options)) }
    rates.sort()
    raw["publish_\(count)_relays"] = rates
    rows.append("| durable publish, \(count) relay\(count == 1 ? "" : "s") | \(format(rates[rates.count / 2])) events/s | \(format(rates.first!))–\(format(rates.last!)) |")
}
/// One run of the batch scenario: its rate, waits, CPU and events answered.
struct BatchRun {
    var rate: Double
    var waits: WaitSampler.Counts
    var cpu: CPUUsage
    var events: Int
}
var batchRuns: [Int: [BatchRun]] = [1: [], 3: []]
for run in 0..<options.runs {
    for count in [1, 3] {
        let (rate, waits, cpu, events) = try await batchRate(relays: count, cluster: cluster, run: run, options: options)
        batchRuns[count]!.append(BatchRun(rate: rate, waits: waits, cpu: cpu, events: events))
    }
}
for count in [1, 3] {
    let runs = batchRuns[count]!.sorted { $0.rate < $1.rate }
    let median = runs[runs.count / 2]
    raw["batch_\(count)_relays"] = runs.map(\.rate)
    raw["batch_\(count)_relays_waits"] = runs.map(\.waits.json)
    raw["batch_\(count)_relays_cpu"] = runs.map(\.cpu.json)
    rows.append(
        "| durable batches of \(options.batch), \(count) relay\(count == 1 ? "" : "s") × 2 producers | \(format(median.rate)) events/s | "
            + "\(format(runs.first!.rate))–\(format(runs.last!.rate)); lock wait \(String(format: "%.0f", median.waits.share(median.waits.lock) * 100)) % "
            + "(median run: \(median.waits.summary); \(median.cpu.summary(events: median.events))) |"
    )
}
let batchRates = batchRuns.mapValues { $0.map(\.rate) }
let scaling = batchRates[3]!.sorted()[options.runs / 2] / batchRates[1]!.sorted()[options.runs / 2]
raw["batch_scaling_3_over_1"] = scaling
rows.append("| durable batches, 3 relays ÷ 1 relay | \(String(format: "%.2f", scaling))× | medians of the two rows above |")
let latencies = try await crossRelayLatency(cluster: cluster, options: options)
raw["latency_p50_s"] = percentile(latencies, 0.5)
raw["latency_p99_s"] = percentile(latencies, 0.99)
rows.append("| cross-relay delivery latency p50 | \(millis(percentile(latencies, 0.5))) | \(latencies.count) events, 1 every ~2 ms |")
rows.append("| cross-relay delivery latency p99 | \(millis(percentile(latencies, 0.99))) | |")

print("""
    | measure | median | range / notes |
    |---|---|---|
    \(rows.joined(separator: "\n"))

    \(options.events) single-event publishes from \(options.producers) concurrent producers per run, \(options.runs) runs; \
    Batches: up to \(options.batchEvents) events per run (at most \(Int(options.batchSeconds)) s) in batches of \(options.batch) with producer ids, \
    2 producers per relay; lock wait = share of busy-backend `pg_stat_activity` samples (every 10 ms) waiting on a heavyweight lock.
    PostgreSQL 15 on the same machine (fsync on), pool of 4 connections per relay.
    """)
try? FileManager.default.createDirectory(atPath: "bench-results", withIntermediateDirectories: true)
if let data = try? JSONSerialization.data(withJSONObject: raw, options: [.prettyPrinted, .sortedKeys]) {
    _ = FileManager.default.createFile(atPath: "bench-results/postgres-store.json", contents: data)
}
