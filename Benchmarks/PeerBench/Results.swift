import Foundation

/// Every figure of every server, one value per run; the report shows median [min–max].
struct Results {
    /// A figure: its label, its unit, and which way is better.
    struct Figure: Hashable {
        var key: String
        var label: String
        var higherIsBetter: Bool
        /// Measured only for Tether's native WebSocket (`tether-memory`, `tether-sqlite`).
        var tetherOnly = false
        /// The peer figure a Tether-only figure is compared with in the ratio table (e.g. the
        /// stock client's CPU per delivery against Mosquitto's with the native generator).
        var peerKey: String?
        /// The run behind it: `paced N` is in `Sizes.paced`, `stock` needs the stock client.
        var pacedSubscribers: Int?
        var stock = false

        /// Whether the figure exists for a server at all (not whether this run measured it).
        func applies(to kind: PeerServer.Kind) -> Bool {
            if tetherOnly, kind.wire != .tether { return false }
            if key == "sigkill_present", !kind.durable { return false }
            return true
        }
    }

    static let figures: [Figure] = [
        Figure(key: "deliveries_10", label: "fan-out deliveries/s with acks, 1 → 10", higherIsBetter: true),
        Figure(key: "deliveries_100", label: "fan-out deliveries/s with acks, 1 → 100", higherIsBetter: true),
        Figure(key: "server_cpu_10", label: "server CPU µs per delivery (= CPU s per million), 1 → 10", higherIsBetter: false),
        Figure(key: "server_cpu_100", label: "server CPU µs per delivery (= CPU s per million), 1 → 100", higherIsBetter: false),
        Figure(key: "server_sys_10", label: "server CPU share in the kernel (stime), %, 1 → 10", higherIsBetter: false),
        Figure(key: "server_sys_100", label: "server CPU share in the kernel (stime), %, 1 → 100", higherIsBetter: false),
        Figure(key: "deliveries_ackeach", label: "Tether with one ack per event (not cumulative): deliveries/s, 1 → 10", higherIsBetter: true, tetherOnly: true),
        Figure(key: "server_cpu_ackeach", label: "Tether with one ack per event: server CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true),
        Figure(key: "generator_cpu_10", label: "load generator CPU µs per delivery, 1 → 10", higherIsBetter: false),
        Figure(key: "generator_cpu_100", label: "load generator CPU µs per delivery, 1 → 100", higherIsBetter: false),
        Figure(key: "latency_rate", label: "latency run: events/s (half the 1 → 10 peak)", higherIsBetter: true),
        Figure(key: "latency_p50", label: "publish→receive p50 ms at half peak, 1 → 10", higherIsBetter: false),
        Figure(key: "latency_p99", label: "publish→receive p99 ms at half peak, 1 → 10", higherIsBetter: false),
        Figure(key: "latency_p999", label: "publish→receive p99.9 ms at half peak, 1 → 10", higherIsBetter: false),
        Figure(key: "replay_ms", label: "replay of 1,000 missed events after reconnect, wall ms", higherIsBetter: false),
        Figure(key: "idle_kb_small", label: "server KB per idle connection, 1,000 connections", higherIsBetter: false),
        Figure(key: "idle_kb_large", label: "server KB per idle connection, 10,000 connections", higherIsBetter: false),
        Figure(key: "sigkill_present", label: "accepted events present after SIGKILL + restart, %", higherIsBetter: true),
    ] + issue16

    /// What issue 16 names (ClientVariantRuns.swift measures them). RATE, SECONDS and IDLE in a
    /// label are replaced by the run's sizes. "generator CPU" is the producer's and subscriber
    /// processes' CPU per delivery, beside each relay figure, to show which side limits it.
    static let issue16: [Figure] = [
        Figure(key: "epf_10", label: "events per frame received (native generator, batch), 1 → 10", higherIsBetter: true, tetherOnly: true),
        Figure(key: "epf_100", label: "events per frame received (native generator, batch), 1 → 100", higherIsBetter: true, tetherOnly: true),
        Figure(key: "nobatch_cpu_10", label: "client without `batch` (native generator): server CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true, peerKey: "server_cpu_10"),
        Figure(key: "nobatch_gen_10", label: "client without `batch` (native generator): generator CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true),
        Figure(key: "paced_cpu_10", label: "paced RATE events/s × 10 (SECONDS s): server CPU µs per delivery", higherIsBetter: false, pacedSubscribers: 10),
        Figure(key: "paced_gen_10", label: "paced RATE events/s × 10: generator CPU µs per delivery", higherIsBetter: false, pacedSubscribers: 10),
        Figure(key: "paced_epf_10", label: "paced RATE events/s × 10: events per frame", higherIsBetter: true, tetherOnly: true, pacedSubscribers: 10),
        Figure(key: "paced_cpu_100", label: "paced RATE events/s × 100 (SECONDS s): server CPU µs per delivery", higherIsBetter: false, pacedSubscribers: 100),
        Figure(key: "paced_gen_100", label: "paced RATE events/s × 100: generator CPU µs per delivery", higherIsBetter: false, pacedSubscribers: 100),
        Figure(key: "paced_epf_100", label: "paced RATE events/s × 100: events per frame", higherIsBetter: true, tetherOnly: true, pacedSubscribers: 100),
        Figure(key: "stock_cpu_10", label: "stock client (Python `websockets`, batch): server CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true, peerKey: "server_cpu_10", stock: true),
        Figure(key: "stock_gen_10", label: "stock client, batch: generator CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true, stock: true),
        Figure(key: "stock_epf_10", label: "stock client, batch: events per frame, 1 → 10", higherIsBetter: true, tetherOnly: true, stock: true),
        Figure(key: "stock_nobatch_cpu_10", label: "stock client without `batch`: server CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true, peerKey: "server_cpu_10", stock: true),
        Figure(key: "stock_nobatch_gen_10", label: "stock client without `batch`: generator CPU µs per delivery, 1 → 10", higherIsBetter: false, tetherOnly: true, stock: true),
        Figure(key: "stock_paced_cpu_10", label: "stock client, paced RATE events/s × 10: server CPU µs per delivery", higherIsBetter: false, tetherOnly: true, peerKey: "paced_cpu_10", pacedSubscribers: 10, stock: true),
        Figure(key: "stock_paced_gen_10", label: "stock client, paced RATE events/s × 10: generator CPU µs per delivery", higherIsBetter: false, tetherOnly: true, pacedSubscribers: 10, stock: true),
        Figure(key: "stock_paced_epf_10", label: "stock client, paced RATE events/s × 10: events per frame", higherIsBetter: true, tetherOnly: true, pacedSubscribers: 10, stock: true),
        Figure(key: "stock_paced_cpu_100", label: "stock client, paced RATE events/s × 100: server CPU µs per delivery", higherIsBetter: false, tetherOnly: true, peerKey: "paced_cpu_100", pacedSubscribers: 100, stock: true),
        Figure(key: "stock_paced_gen_100", label: "stock client, paced RATE events/s × 100: generator CPU µs per delivery", higherIsBetter: false, tetherOnly: true, pacedSubscribers: 100, stock: true),
        Figure(key: "stock_paced_epf_100", label: "stock client, paced RATE events/s × 100: events per frame", higherIsBetter: true, tetherOnly: true, pacedSubscribers: 100, stock: true),
        Figure(key: "idle_cpu", label: "server CPU, % of a core, with IDLE idle subscribers (over IDLESECONDS s)", higherIsBetter: false),
    ]

    var values: [String: [String: [Double]]] = [:]
    /// Missing / duplicate / out-of-order counts, summed over runs, per server and check.
    var integrity: [String: [String: [String: Int]]] = [:]
    var errors: [String] = []
    var notes: [String] = []

    mutating func add(_ kind: PeerServer.Kind, _ key: String, _ value: Double) {
        values[kind.rawValue, default: [:]][key, default: []].append(value)
    }

    mutating func count(_ kind: PeerServer.Kind, _ check: String, missing: Int, duplicates: Int, outOfOrder: Int) {
        var entry = integrity[kind.rawValue, default: [:]][check, default: ["missing": 0, "duplicates": 0, "out_of_order": 0]]
        entry["missing", default: 0] += missing
        entry["duplicates", default: 0] += duplicates
        entry["out_of_order", default: 0] += outOfOrder
        integrity[kind.rawValue, default: [:]][check] = entry
    }

    func median(_ kind: PeerServer.Kind, _ key: String) -> Double? {
        guard let runs = values[kind.rawValue]?[key], !runs.isEmpty else { return nil }
        let sorted = runs.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    func cell(_ kind: PeerServer.Kind, _ key: String) -> String {
        guard let runs = values[kind.rawValue]?[key], let median = median(kind, key) else { return "—" }
        let low = runs.min()!, high = runs.max()!
        return runs.count == 1 ? Self.format(median) : "\(Self.format(median)) [\(Self.format(low))–\(Self.format(high))]"
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "n/a" }
        let magnitude = abs(value)
        if magnitude >= 1000 { return String(Int(value.rounded())) }
        if magnitude >= 100 { return String(format: "%.0f", value) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        if magnitude >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3f", value)
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
