import Foundation

/// The whole comparison: every figure, `runs` times, for every server, then the report.
struct Bench {
    let sizes: Coordinator.Sizes
    let kinds: [PeerServer.Kind]
    let tether: String
    let work: String
    /// nil: stock-client figures turned off (`--stock 0`); a failure: why they cannot be measured.
    let stock: Result<StockClient, PeerError>?

    /// Prints the Markdown report; true if any figure failed to produce a result.
    func run(json: String?) -> Bool {
        let coordinator = Coordinator(sizes: sizes, tether: tether, workDirectory: work)
        let variants = ClientVariantRuns(coordinator: coordinator, sizes: sizes, stock: stock)
        var results = Results()
        switch stock {
        case .success(let client)?: results.notes.append("Stock client: \(client.script) on Python `websockets` \(client.version).")
        case .failure(let error)?: results.notes.append("Stock client not measured: \(error)")
        case nil where kinds.contains { $0.wire == .tether }: results.notes.append("Stock client turned off (`--stock 0`).")
        case nil: break
        }
        let began = Date()
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        func attempt(_ kind: PeerServer.Kind, _ what: String, _ body: () throws -> Void) {
            do { try body() } catch {
                results.errors.append("\(kind.rawValue) \(what): \(error)")
                coordinator.progress("\(kind.rawValue) \(what) FAILED: \(error)")
            }
        }
        for kind in kinds {
            for run in 1...sizes.runs {
                attempt(kind, "run \(run)") {
                    let server = try PeerServer(kind: kind, directory: coordinator.freshDirectory(kind.rawValue), tether: tether)
                    defer { server.stop() }
                    var peak: Double?
                    for subscribers in sizes.subscribers {
                        coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): fan-out 1 → \(subscribers)")
                        let events = max(1, sizes.deliveries / subscribers)
                        let fan = try coordinator.fanOut(server, subscribers: subscribers, events: events, rate: nil)
                        results.add(kind, "deliveries_\(subscribers)", fan.deliveriesPerSecond)
                        results.add(kind, "server_cpu_\(subscribers)", fan.serverCPUMicrosPerDelivery)
                        results.add(kind, "server_sys_\(subscribers)", fan.serverSystemPercent)
                        results.add(kind, "generator_cpu_\(subscribers)", fan.generatorCPUMicrosPerDelivery)
                        results.count(kind, "fan-out", missing: fan.missing, duplicates: fan.duplicates, outOfOrder: fan.outOfOrder)
                        if !fan.errors.isEmpty { results.errors.append("\(kind.rawValue) fan-out 1 → \(subscribers): \(fan.errors.prefix(2))") }
                        if let epf = fan.eventsPerFrame { results.add(kind, "epf_\(subscribers)", epf) }
                        if subscribers == sizes.subscribers.first { peak = fan.deliveriesPerSecond / Double(subscribers) }
                    }
                    if kind.wire == .tether, let subscribers = sizes.subscribers.first {
                        // Tether's ack is cumulative; MQTT QoS 1 and JetStream AckExplicit are not.
                        // The same run with one ack per event shows what that difference is worth.
                        coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): fan-out 1 → \(subscribers), one ack per event")
                        let fan = try coordinator.fanOut(server, subscribers: subscribers, events: max(1, sizes.deliveries / subscribers), rate: nil, ackEach: true)
                        results.add(kind, "deliveries_ackeach", fan.deliveriesPerSecond)
                        results.add(kind, "server_cpu_ackeach", fan.serverCPUMicrosPerDelivery)
                        results.count(kind, "fan-out", missing: fan.missing, duplicates: fan.duplicates, outOfOrder: fan.outOfOrder)
                    }
                    if let peak {
                        let subscribers = sizes.subscribers.first!
                        let rate = max(10, peak / 2)
                        coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): latency at \(Int(rate)) events/s")
                        let fan = try coordinator.fanOut(server, subscribers: subscribers, events: sizes.latencyEvents, rate: rate)
                        let sorted = fan.latencies.sorted()
                        results.add(kind, "latency_rate", rate)
                        results.add(kind, "latency_p50", Results.percentile(sorted, 0.50))
                        results.add(kind, "latency_p99", Results.percentile(sorted, 0.99))
                        results.add(kind, "latency_p999", Results.percentile(sorted, 0.999))
                        results.count(kind, "latency", missing: fan.missing, duplicates: fan.duplicates, outOfOrder: fan.outOfOrder)
                    }
                    coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): replay of \(sizes.replayEvents)")
                    let replay = try coordinator.replay(server)
                    results.add(kind, "replay_ms", replay.milliseconds)
                    results.count(kind, "replay", missing: replay.missing, duplicates: replay.duplicates, outOfOrder: replay.outOfOrder)
                    variants.measure(server, run: run, into: &results)
                }
            }
            for run in 1...sizes.runs {
                // Idle CPU (issue 16) is read in the memory run of the same size, or its own run.
                let idleRuns = sizes.idle.contains(sizes.idleCPUConnections) ? sizes.idle : sizes.idle + [sizes.idleCPUConnections]
                for (index, connections) in idleRuns.enumerated() {
                    attempt(kind, "idle \(connections) run \(run)") {
                        let window = connections == sizes.idleCPUConnections ? sizes.idleCPUSeconds : nil
                        coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): \(connections) idle connections" + (window.map { ", CPU over \(Results.format($0)) s" } ?? ""))
                        let idle = try coordinator.idle(kind, connections: connections, cpuWindow: window)
                        if index < sizes.idle.count { results.add(kind, index == 0 ? "idle_kb_small" : "idle_kb_large", idle.kbPerConnection) }
                        if let cpu = idle.cpuPercent { results.add(kind, "idle_cpu", cpu) }
                    }
                }
            }
            if kind.durable {
                for run in 1...sizes.runs {
                    attempt(kind, "SIGKILL run \(run)") {
                        coordinator.progress("\(kind.rawValue) run \(run)/\(sizes.runs): SIGKILL after \(sizes.killEvents) accepted")
                        let survival = try coordinator.survival(kind)
                        results.add(kind, "sigkill_present", 100 * Double(survival.present) / Double(survival.accepted))
                    }
                }
            }
        }
        // Every figure of every server must have a value (the memory store is volatile by design).
        for kind in kinds {
            for figure in Results.figures where results.median(kind, figure.key) == nil && figure.applies(to: kind) {
                if let paced = figure.pacedSubscribers, !sizes.paced.contains(paced) { continue }
                if figure.stock, stock == nil { continue }
                results.errors.append("\(kind.rawValue): no result for \(figure.label)")
            }
        }
        let elapsed = Date().timeIntervalSince(began)
        let report = Report(results: results, kinds: kinds, sizes: sizes, tether: tether, load: load, seconds: elapsed)
        print(report.markdown())
        if let json {
            let data = try? JSONSerialization.data(withJSONObject: report.json(), options: [.prettyPrinted, .sortedKeys])
            _ = FileManager.default.createFile(atPath: json, contents: data)
        }
        for error in results.errors { coordinator.progress("error: \(error)") }
        return !results.errors.isEmpty
    }
}
