// The cost of the metric exporters: rendering /metrics (Prometheus text) and /v1/stats (JSON)
// with 1,000 and 10,000 connected clients, and core publish throughput while a scraper renders
// both in a loop, next to the same run without scraping. Median of several runs with the range.
//
// Usage: tether-metrics-bench [--smoke=1]
//        tether-metrics-bench --allocations=metrics|stats,CLIENTS,SCRAPES
// The second form only connects CLIENTS clients and renders SCRAPES scrapes, then exits: run
// under the malloc counter twice with different SCRAPES, the difference over the extra scrapes
// is allocations per scrape (scripts/bench.sh does that).
import Foundation
import Logging
import MemoryStore
import PrometheusExporter
import TetherCore

let smoke = CommandLine.arguments.contains("--smoke=1")
let runs = smoke ? 1 : 5
let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    return logger
}()

func relay(clients: Int) async throws -> Relay {
    var configuration = RelayConfiguration()
    configuration.retention = RetentionPolicy(ttl: 3600, maxEvents: 1_000_000, maxBytes: 1 << 32)
    configuration.lagCap = 1_000_000
    let relay = Relay(store: MemoryBufferStore(configuration: .init(retention: configuration.retention)), configuration: configuration, logger: logger)
    try await relay.start()
    for index in 0..<clients {
        let session = try await relay.subscribe(Hello(clientID: "bench-\(index)"), transport: "websocket", remote: "127.0.0.1:\(index)")
        session.recordPing(roundTrip: 0.001 * Double(index % 50))
    }
    await relay.sweep()
    return relay
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> (Double, Double, Double) {
    let sorted = values.sorted()
    return (sorted[sorted.count / 2], sorted.first!, sorted.last!)
}

let exporter = PrometheusExporter(logger: logger)

if let spec = CommandLine.arguments.first(where: { $0.hasPrefix("--allocations=") })?.dropFirst("--allocations=".count) {
    let parts = spec.split(separator: ",")
    guard parts.count == 3, let clients = Int(parts[1]), let scrapes = Int(parts[2]) else {
        FileHandle.standardError.write(Data("usage: --allocations=metrics|stats,CLIENTS,SCRAPES\n".utf8))
        exit(2)
    }
    let relay = try await relay(clients: clients)
    var bytes = 0
    for _ in 0..<scrapes {
        bytes += parts[0] == "metrics" ? exporter.render(relay).utf8.count : try relay.stats().jsonBytes().count
    }
    print("rendered \(scrapes) scrapes, \(bytes) bytes")
    exit(0)
}

print("## Metric exporters\n")
print("Render time of one scrape, in process (no HTTP), median of \(runs) runs [min–max]:\n")
print("| connected clients | /metrics (Prometheus text) | /v1/stats (JSON) | /metrics bytes | /v1/stats bytes |")
print("|---:|---:|---:|---:|---:|")
for clients in smoke ? [100] : [1_000, 10_000] {
    let relay = try await relay(clients: clients)
    var prometheus: [Double] = []
    var json: [Double] = []
    var sizes = (0, 0)
    for _ in 0..<runs {
        let clock = ContinuousClock()
        var text = ""
        prometheus.append(seconds(clock.measure { text = exporter.render(relay) }))
        var bytes: [UInt8] = []
        json.append(seconds(try clock.measure { bytes = try relay.stats().jsonBytes() }))
        sizes = (text.utf8.count, bytes.count)
    }
    let p = median(prometheus)
    let j = median(json)
    func ms(_ value: (Double, Double, Double)) -> String { String(format: "%.2f ms [%.2f–%.2f]", value.0 * 1000, value.1 * 1000, value.2 * 1000) }
    print("| \(clients) | \(ms(p)) | \(ms(j)) | \(sizes.0) | \(sizes.1) |")
}

print("\nPublish throughput through the core (1 producer, batches of 256, no subscribers reading), with")
print("and without a scraper rendering both exporters 10 times a second (Prometheus usually scrapes")
print("every 15 s), 1,000 connected clients:\n")
print("| scraping | events/s |")
print("|---|---:|")
let events = smoke ? 20_000 : 500_000
let batch = (0..<256).map { _ in EventDraft(topic: "bench", data: Array(#"{"kind":"tick","value":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#.utf8)) }
for scraping in [false, true] {
    var rates: [Double] = []
    for _ in 0..<runs {
        let relay = try await relay(clients: 1_000)
        let scraper = Task {
            var scrapes = 0
            while scraping, !Task.isCancelled {
                _ = exporter.render(relay)
                _ = try? relay.stats().jsonBytes()
                scrapes += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            return scrapes
        }
        let start = ContinuousClock.now
        var published = 0
        while published < events { published += try await relay.publish(batch).count }
        rates.append(Double(published) / seconds(ContinuousClock.now - start))
        scraper.cancel()
        _ = await scraper.value
    }
    let r = median(rates)
    print("| \(scraping ? "yes" : "no") | " + String(format: "%.2fM [%.2fM–%.2fM]", r.0 / 1e6, r.1 / 1e6, r.2 / 1e6) + " |")
}
