import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TetherClient
import TetherCore

/// `tether bench`: measurements against a running relay.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks against a running relay.",
        subcommands: [WebSocketBench.self, BenchSubscriber.self]
    )
}

/// `tether bench websocket`: fan-out throughput with acks to 10 and 100 subscriber processes,
/// publish-to-receive latency at half the peak rate, and the wall time of a 1000-event replay.
struct WebSocketBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websocket",
        abstract: "Measure WebSocket fan-out, latency and replay against a running relay.",
        discussion: """
            Starts each subscriber as its own `tether bench subscribe` process. Prints Markdown \
            for BENCHMARKS.md; --json FILE also writes the raw figures.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "Subscriber counts to measure, comma-separated.")
    var subscribers = "10,100"

    @Option(help: "Deliveries per throughput run (events = deliveries / subscribers).")
    var deliveries = 200_000

    @Option(help: "Events in the latency run.")
    var latencyEvents = 2000

    @Option(help: "Replay runs (the median is reported).")
    var replayRuns = 5

    @Option(help: "Write the raw figures as JSON here.")
    var json: String?

    @Option(help: "How the producer publishes in the throughput runs: websocket (one publish frame per event, pipelined) or http (POST batches of 100).")
    var producer = "websocket"

    func run() async throws {
        let url = client.resolvedURL
        let signalSources = BenchChildren.shared.stopOnSignals()
        defer { withExtendedLifetime(signalSources) {} }
        var report: [String: Any] = ["url": url]
        var lines = ["| measurement | subscribers | events | result |", "|---|---|---|---|"]
        var peak: (subscribers: Int, deliveriesPerSecond: Double)?
        let counts = subscribers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        var progress = BenchProgress(rounds: counts.count + (counts.isEmpty ? 0 : 1) + replayRuns)
        for count in counts {
            let events = max(1, deliveries / count)
            progress.start("fan-out to \(count) subscribers, \(events) events each")
            defer { progress.finish() }
            let run = try await fanOut(url: url, subscribers: count, events: events, rate: nil, topic: "bench-\(count)-\(UUID().uuidString.prefix(8))")
            report["producer"] = producer
            report["fanout_\(count)"] = ["events": events, "deliveries_per_second": run.deliveriesPerSecond, "publish_per_second": run.publishedPerSecond, "seconds": run.seconds, "skipped": run.skipped]
            let skipped = run.skipped > 0 ? ", \(run.skipped) skipped past the lag cap" : ""
            lines.append("| deliveries/s with acks (\(producer) producer) | \(count) | \(events) | \(Int(run.deliveriesPerSecond)) (publish \(Int(run.publishedPerSecond))/s, \(String(format: "%.2f", run.seconds)) s\(skipped)) |")
            if peak == nil || count == 10 { peak = (count, run.deliveriesPerSecond) }
        }
        if let peak {
            let rate = max(10, peak.deliveriesPerSecond / Double(peak.subscribers) / 2)
            progress.start("latency: \(latencyEvents) events at \(Int(rate))/s to \(peak.subscribers) subscribers")
            defer { progress.finish() }
            let run = try await fanOut(url: url, subscribers: peak.subscribers, events: latencyEvents, rate: rate, topic: "latency-\(UUID().uuidString.prefix(8))")
            let sorted = run.latencies.sorted()
            let p50 = Self.percentile(sorted, 0.50)
            let p99 = Self.percentile(sorted, 0.99)
            report["latency"] = ["subscribers": peak.subscribers, "rate_per_second": rate, "p50_ms": p50, "p99_ms": p99, "samples": sorted.count]
            lines.append("| publish→receive latency at \(Int(rate)) events/s (half the peak) | \(peak.subscribers) | \(latencyEvents) | p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms |")
        }
        var replays: [Double] = []
        for run in 0..<replayRuns {
            progress.start("replay of 1000 missed events, run \(run + 1) of \(replayRuns)")
            replays.append(try await replayWallTime(url: url, missed: 1000))
            progress.finish()
        }
        let median = replays.sorted()[replays.count / 2]
        report["replay_1000_seconds"] = replays
        lines.append("| wall time to replay 1000 missed events (median of \(replayRuns)) | 1 | 1000 | \(String(format: "%.1f", median * 1000)) ms |")
        Console.out(lines.joined(separator: "\n"))
        if let json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }

    struct FanOut {
        var seconds: Double
        var deliveriesPerSecond: Double
        var publishedPerSecond: Double
        var latencies: [Double]
        /// Events subscribers were told they skipped (lag cap): not counted as deliveries.
        var skipped: Int
    }

    /// Starts `subscribers` subscriber processes, publishes `events` (as fast as the relay takes
    /// them, or at `rate` per second), and waits for every subscriber to receive them all.
    private func fanOut(url: String, subscribers: Int, events: Int, rate: Double?, topic: String) async throws -> FanOut {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var children: [(process: Process, output: Pipe)] = []
        for _ in 0..<subscribers {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["bench", "subscribe", "--url", url, "--topic", topic, "--events", "\(events)"] + (rate == nil ? [] : ["--latencies"])
            let output = Pipe()
            process.standardOutput = output
            try BenchChildren.shared.run(process)
            children.append((process, output))
        }
        defer {
            for child in children where child.process.isRunning { child.process.terminate() }
            BenchChildren.shared.remove(children.map(\.process.processIdentifier))
        }
        // Each prints "ready" once welcomed.
        for child in children {
            let line = Self.readLine(child.output.fileHandleForReading)
            guard line == "ready" else { throw Console.fail("a subscriber did not start: \(line ?? "no output")") }
        }
        if rate == nil, producer == "http" {
            let start = Date()
            try await Self.publishOverHTTP(url: url, topic: topic, events: events)
            return try Self.collect(children, start: start, published: Date().timeIntervalSince(start), events: events)
        }
        var configuration = TetherClientConfiguration(url: url)
        configuration.topics = ["\u{1F}bench-producer"]  // the producer receives nothing
        configuration.outboundBufferLimit = 256
        let producer = try TetherClient(configuration: configuration)
        let runner = Task { await producer.run() }
        let start = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for n in 0..<events {
                if let rate {
                    let due = start.addingTimeInterval(Double(n) / rate)
                    let wait = due.timeIntervalSinceNow
                    if wait > 0.001 { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) }
                }
                if inFlight >= 200 {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask {
                    let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                    _ = try await producer.publish(topic: topic, data: Array("{\"t\":\(micros)}".utf8))
                }
                inFlight += 1
            }
            try await group.waitForAll()
        }
        let published = Date().timeIntervalSince(start)
        await producer.stop()
        await runner.value
        return try Self.collect(children, start: start, published: published, events: events)
    }

    /// Reads every subscriber's result line and sums them up.
    private static func collect(_ children: [(process: Process, output: Pipe)], start: Date, published: Double, events: Int) throws -> FanOut {
        var last = start
        var latencies: [Double] = []
        var delivered = 0
        var skipped = 0
        for child in children {
            let data = child.output.fileHandleForReading.readDataToEndOfFile()
            child.process.waitUntilExit()
            guard let result = try JSONSerialization.jsonObject(with: data) as? [String: Any], let end = result["last"] as? Double else {
                throw Console.fail("a subscriber reported nothing usable: \(String(decoding: data, as: UTF8.self).prefix(200))")
            }
            last = max(last, Date(timeIntervalSince1970: end))
            delivered += result["received"] as? Int ?? 0
            skipped += result["skipped"] as? Int ?? 0
            latencies += (result["latencies_ms"] as? [Double]) ?? []
        }
        let seconds = last.timeIntervalSince(start)
        return FanOut(seconds: seconds, deliveriesPerSecond: Double(delivered) / seconds, publishedPerSecond: Double(events) / published, latencies: latencies, skipped: skipped)
    }

    /// `POST /v1/events` in batches of 100, four requests in flight.
    private static func publishOverHTTP(url: String, topic: String, events: Int) async throws {
        var base = url.replacingOccurrences(of: "ws://", with: "http://").replacingOccurrences(of: "wss://", with: "https://")
        if base.hasSuffix("/v1/ws") { base.removeLast("/v1/ws".count) }
        let endpoint = URL(string: base + "/v1/events")!
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        let batches = stride(from: 0, to: events, by: 100).map { start in (start, min(events, start + 100)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, batch) in batches.enumerated() {
                if index >= 4 { try await group.next() }
                group.addTask {
                    let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                    let body = (batch.0..<batch.1).map { _ in "{\"topic\":\"\(topic)\",\"data\":{\"t\":\(micros)}}" }.joined(separator: ",")
                    var request = URLRequest(url: endpoint)
                    request.httpMethod = "POST"
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.httpBody = Data(("[" + body + "]").utf8)
                    let (_, response) = try await session.data(for: request)
                    guard (response as? HTTPURLResponse)?.statusCode == 202 else {
                        throw Console.fail("POST /v1/events answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// One subscriber falls 1000 events behind; how long from its reconnect to the last replayed event.
    private func replayWallTime(url: String, missed: Int) async throws -> Double {
        let topic = "replay-\(UUID().uuidString.prefix(8))"
        var configuration = TetherClientConfiguration(url: url)
        configuration.topics = [topic]
        configuration.autoAck = true
        let first = try TetherClient(configuration: configuration)
        let firstRun = Task { await first.run() }
        for await state in first.states where state == .connected { break }
        await first.stop()
        await firstRun.value
        var producerConfiguration = TetherClientConfiguration(url: url)
        producerConfiguration.topics = ["\u{1F}bench-producer"]
        producerConfiguration.outboundBufferLimit = 256
        let producer = try TetherClient(configuration: producerConfiguration)
        let producerRun = Task { await producer.run() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<missed {
                if n >= 200 { try await group.next() }
                group.addTask { _ = try await producer.publish(topic: topic, data: Array("{\"n\":\(n)}".utf8)) }
            }
            try await group.waitForAll()
        }
        await producer.stop()
        await producerRun.value

        var resumed = configuration
        resumed.clientID = nil
        let start = Date()
        let state = await first.resumeState
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tether-bench-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try state.save(to: path)
        resumed.stateFile = path
        let second = try TetherClient(configuration: resumed)
        let secondRun = Task { await second.run() }
        var received = 0
        for await item in second.events {
            if case .event = item { received += 1 }
            if received == missed { break }
        }
        let elapsed = Date().timeIntervalSince(start)
        await second.stop()
        await secondRun.value
        return elapsed
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    /// One line from a pipe (blocking), without its newline.
    static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if first == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(first)
        }
    }
}

/// `tether bench subscribe`: one benchmark subscriber process. Prints `ready` once welcomed,
/// then one JSON line when it has received `--events` events.
struct BenchSubscriber: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "subscribe", abstract: "One benchmark subscriber (used by `tether bench websocket`).", shouldDisplay: false)

    @OptionGroup var client: ClientOptions
    @Option var topic: String
    @Option var events: Int
    @Flag var latencies = false

    func run() async throws {
        var configuration = TetherClientConfiguration(url: client.resolvedURL)
        configuration.topics = [topic]
        configuration.autoAck = true
        let tether = try TetherClient(configuration: configuration)
        let runner = Task { await tether.run() }
        // A subscriber outlives no benchmark, even one killed with SIGKILL: when its parent is
        // gone (it is re-parented), it stops.
        // The benchmark ignores SIGINT and SIGTERM to handle them itself; a child inherits
        // ignored signals across exec, and must die of them.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        let parent = getppid()
        let orphanWatch = Task {
            while !Task.isCancelled, getppid() == parent { try? await Task.sleep(for: .milliseconds(500)) }
            if !Task.isCancelled { Foundation.exit(3) }
        }
        defer { orphanWatch.cancel() }
        var received = 0
        var skipped = 0
        var done = false
        var last = Date().timeIntervalSince1970
        var samples: [Double] = []
        if latencies { samples.reserveCapacity(events) }
        for await item in tether.events {
            switch item {
            case .welcome:
                Console.out("ready")
            case .event(let event):
                received += 1
                if latencies, let sent = Self.micros(in: event.data) {
                    samples.append(Double(Int64(Date().timeIntervalSince1970 * 1_000_000) - sent) / 1000)
                }
            case .gap(let gap):
                // Fell behind the lag cap: those events are accounted for, not delivered.
                skipped += Int(gap.count)
            default:
                break
            }
            if received + skipped >= events, !done {
                done = true
                last = Date().timeIntervalSince1970
                await tether.stop()
            }
        }
        await runner.value
        var result: [String: Any] = ["received": received, "skipped": skipped, "last": last]
        if latencies { result["latencies_ms"] = samples }
        Console.out(String(decoding: try JSONSerialization.data(withJSONObject: result), as: UTF8.self))
    }

    /// The producer's send time from `{"t":MICROS}`.
    static func micros(in data: [UInt8]) -> Int64? {
        guard let start = data.firstIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let digits = data[start...].prefix { $0 >= 0x30 && $0 <= 0x39 }
        return Int64(String(decoding: digits, as: UTF8.self))
    }
}
