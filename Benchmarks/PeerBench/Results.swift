import Foundation

/// Every figure of every server, one value per run; the report shows median [min–max].
struct Results {
    /// A figure: its label, its unit, and which way is better.
    struct Figure: Hashable {
        var key: String
        var label: String
        var higherIsBetter: Bool
        var tetherOnly = false
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
