import Foundation

/// The Markdown for BENCHMARKS.md and the raw JSON for bench-results/.
struct Report {
    let results: Results
    let kinds: [PeerServer.Kind]
    let sizes: Coordinator.Sizes
    let tether: String
    let load: String
    let seconds: Double

    /// The integrity checks: one per kind of run (the last three are issue 16's).
    static let checks = ["fan-out", "latency", "replay", "paced", "no batch", "stock client"]

    private var peers: [PeerServer.Kind] { kinds.filter { !$0.isTether } }
    private var tethers: [PeerServer.Kind] { kinds.filter(\.isTether) }

    func markdown() -> String {
        var lines: [String] = []
        lines.append("Servers: " + Set(kinds.map { PeerServer.version(of: $0, tether: tether) }).sorted().joined(separator: "; ") + ".")
        lines.append("Load average at start: \(load); \(sizes.runs) run(s), \(Int(seconds)) s in all. "
            + "Median [min–max] of the runs; \(sizes.deliveries) deliveries per fan-out run, \(sizes.latencyEvents) events in the latency run, "
            + "\(sizes.idle.map(String.init).joined(separator: " and ")) idle connections, \(sizes.killEvents) events before SIGKILL.")
        lines.append("")
        lines.append("| figure | " + kinds.map(\.rawValue).joined(separator: " | ") + " |")
        lines.append("|---|" + kinds.map { _ in "---|" }.joined())
        for figure in Results.figures where figure.pacedSubscribers.map(sizes.paced.contains) ?? true {
            lines.append("| \(label(figure)) | " + kinds.map { figure.applies(to: $0) ? results.cell($0, figure.key) : "n/a" }.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("n/a: the figure does not exist for that server (`batch`, the stock client and frame counts are Tether's WebSocket protocol; the SIGKILL figure needs a durable store). — : measured, but no result (see the errors below).")
        lines.append("")
        lines.append("Figures of issue 16: the paced runs publish \(Int(sizes.pacedRate)) events/s for \(Results.format(sizes.pacedSeconds)) s; "
            + "the stock client is Benchmarks/StockClient/tether_subscribers.py (Python `websockets`, JSON decoded, `hello` with `batch: true` unless said, "
            + "one cumulative `ack` per 32 events or 20 ms, 4 processes as the native generator), \(sizes.stockDeliveries) deliveries per unpaced stock run; "
            + "events per frame = deliveries ÷ frames carrying events, counted by the subscribers; generator CPU = producer + subscriber processes. "
            + "A Tether-only figure's ratio is taken against the peer figure named beside it (the peers run with the native generator).")
        for note in results.notes { lines.append(""); lines.append(note) }
        if kinds.contains(.tetherSSE) {
            lines.append("")
            lines.append("tether-sse: memory store, subscribers over Server-Sent Events, which has no acks (the relay counts an event written to the socket as acknowledged); its producer publishes over WebSocket; replay resumes with `Last-Event-ID`" + (sizes.sseCursorResume ? " — here by `client_id` alone (`--sse-resume cursor`)." : "."))
        }
        if kinds.contains(.tetherSocketIO) {
            lines.append("")
            lines.append("tether-socketio: memory store, subscribers over Socket.IO v5 on Engine.IO v4's WebSocket transport, which has no per-event acks (the relay counts an event queued to the socket as delivered); its producer publishes over WebSocket; replay resumes with the seed's `last_sequence` and arrives as one `event_replay`.")
        }
        lines.append("")
        lines.append("Tether as a ratio to each peer (ratio of medians, same run; > 1 means Tether is higher: better for deliveries/s and surviving events, worse for CPU, latency, replay time and memory):")
        lines.append("")
        let pairs = tethers.flatMap { t in peers.map { (t, $0) } }
        lines.append("| figure | " + pairs.map { "\($0.0.rawValue) / \($0.1.rawValue)" }.joined(separator: " | ") + " |")
        lines.append("|---|" + pairs.map { _ in "---|" }.joined())
        for figure in Results.figures where figure.key != "latency_rate" && (!figure.tetherOnly || figure.peerKey != nil)
            && figure.pacedSubscribers.map(sizes.paced.contains) ?? true
            && !figure.key.hasPrefix("server_sys") && !figure.key.contains("_gen_") {
            let peerKey = figure.peerKey ?? figure.key
            let cells = pairs.map { pair -> String in
                guard let a = results.median(pair.0, figure.key), let b = results.median(pair.1, peerKey), b != 0 else { return "—" }
                return String(format: "%.2f×", a / b)
            }
            let against = figure.peerKey.map { " (against the peer's `\($0)`)" } ?? ""
            lines.append("| \(label(figure))\(against) | " + cells.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("Integrity, summed over all runs (missing / duplicate / out-of-order deliveries, counted by each subscriber against the producer's numbering):")
        lines.append("")
        lines.append("| check | " + kinds.map(\.rawValue).joined(separator: " | ") + " |")
        lines.append("|---|" + kinds.map { _ in "---|" }.joined())
        for check in Self.checks {
            let cells = kinds.map { kind -> String in
                if check == "no batch" || check == "stock client", kind.wire != .tether { return "n/a" }
                guard let entry = results.integrity[kind.rawValue]?[check] else { return "—" }
                return "\(entry["missing"] ?? 0) / \(entry["duplicates"] ?? 0) / \(entry["out_of_order"] ?? 0)"
            }
            lines.append("| \(check) | " + cells.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append(contentsOf: goals())
        if !results.errors.isEmpty {
            lines.append("")
            lines.append("Failed or missing:")
            for error in results.errors { lines.append("- \(error)") }
        }
        return lines.joined(separator: "\n")
    }

    private func label(_ figure: Results.Figure) -> String {
        guard !figure.key.hasPrefix("idle_kb") else {
            return "server KB per idle connection, \(sizes.idle[figure.key == "idle_kb_small" ? 0 : 1]) connections"
        }
        return figure.label
            .replacingOccurrences(of: "IDLESECONDS", with: Results.format(sizes.idleCPUSeconds))
            .replacingOccurrences(of: "SECONDS", with: Results.format(sizes.pacedSeconds))
            .replacingOccurrences(of: "IDLE", with: "\(sizes.idleCPUConnections)")
            .replacingOccurrences(of: "RATE", with: "\(Int(sizes.pacedRate))")
    }

    /// The targets of issue 9, reported (not asserted) against the medians.
    private func goals() -> [String] {
        var lines = ["Goals (issue 9), against the medians above:", ""]
        func verdict(_ ok: Bool?) -> String { ok.map { $0 ? "met" : "**not met**" } ?? "not measured" }
        for t in tethers where t.wire == .tether {
            let cpu = [10, 100].compactMap { results.median(t, "server_cpu_\($0)") }.max()
            lines.append("- \(t.rawValue): relay CPU per acked delivery ≤ 1.5 µs: \(cpu.map { Results.format($0) } ?? "—") µs (worse of 1 → 10 and 1 → 100), \(verdict(cpu.map { $0 <= 1.5 }))")
            for (peer, factor) in [(PeerServer.Kind.mosquitto, 3.0), (.nats, 1.5)] where kinds.contains(peer) {
                let ratios = [10, 100].compactMap { n -> Double? in
                    guard let a = results.median(t, "deliveries_\(n)"), let b = results.median(peer, "deliveries_\(n)") else { return nil }
                    return a / b
                }
                let worst = ratios.min()
                lines.append("- \(t.rawValue): fan-out ≥ \(Results.format(factor))× \(peer.rawValue): \(worst.map { String(format: "%.2f×", $0) } ?? "—") (worse of 1 → 10 and 1 → 100), \(verdict(worst.map { $0 >= factor }))")
            }
            let p99 = results.median(t, "latency_p99")
            lines.append("- \(t.rawValue): p99 < 5 ms at half peak: \(p99.map { Results.format($0) } ?? "—") ms, \(verdict(p99.map { $0 < 5 }))")
            let replay = results.median(t, "replay_ms")
            lines.append("- \(t.rawValue): 1,000-event replay < 10 ms: \(replay.map { Results.format($0) } ?? "—") ms, \(verdict(replay.map { $0 < 10 }))")
            let kb = ["idle_kb_small", "idle_kb_large"].compactMap { results.median(t, $0) }.max()
            lines.append("- \(t.rawValue): ≤ 8 KB per idle connection: \(kb.map { Results.format($0) } ?? "—") KB, \(verdict(kb.map { $0 <= 8 }))")
            if t == .tetherSQLite {
                let kept = results.values[t.rawValue]?["sigkill_present"]?.min()
                lines.append("- \(t.rawValue): 0 accepted events lost on SIGKILL: worst run kept \(kept.map { Results.format($0) } ?? "—") %, \(verdict(kept.map { $0 >= 100 }))")
            }
            let lost = Self.checks.reduce(0) { $0 + (results.integrity[t.rawValue]?[$1]?["missing"] ?? 0) }
            lines.append("- \(t.rawValue): no silent drop: \(lost) missing deliveries in all runs, \(verdict(lost == 0))")
        }
        return lines
    }

    func json() -> [String: Any] {
        var targets: [String: Any] = [:]
        for kind in kinds {
            var figures: [String: Any] = [:]
            for figure in Results.figures {
                guard let runs = results.values[kind.rawValue]?[figure.key] else { continue }
                figures[figure.key] = ["runs": runs, "median": results.median(kind, figure.key) ?? .nan, "min": runs.min()!, "max": runs.max()!, "label": label(figure)]
            }
            targets[kind.rawValue] = [
                "version": PeerServer.version(of: kind, tether: tether),
                "figures": figures,
                "integrity": results.integrity[kind.rawValue] ?? [:],
            ]
        }
        return [
            "load_average_at_start": load,
            "seconds": seconds,
            "sizes": ["runs": sizes.runs, "deliveries": sizes.deliveries, "latency_events": sizes.latencyEvents,
                      "replay_events": sizes.replayEvents, "idle": sizes.idle, "kill_events": sizes.killEvents,
                      "subscribers": sizes.subscribers, "subscriber_processes": Coordinator.workerProcesses,
                      "window": Producer.window, "paced": sizes.paced, "paced_rate": sizes.pacedRate,
                      "paced_seconds": sizes.pacedSeconds, "stock_deliveries": sizes.stockDeliveries,
                      "idle_cpu_connections": sizes.idleCPUConnections, "idle_cpu_seconds": sizes.idleCPUSeconds],
            "notes": results.notes,
            "targets": targets,
            "errors": results.errors,
        ]
    }
}
