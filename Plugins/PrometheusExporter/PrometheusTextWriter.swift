/// Writes the Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, samples.
///
/// Tether's own series are rendered from the relay's atomics and snapshots at scrape time, so
/// the publish path never touches a metrics lock; this writer is what turns them into text.
struct PrometheusTextWriter {
    private(set) var text = ""

    init() {
        text.reserveCapacity(16 << 10)
    }

    mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{"
            text += labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",")
            text += "}"
        }
        text += " \(Self.format(value))\n"
    }

    mutating func counter(_ name: String, help: String, _ value: UInt64, labels: [(String, String)] = []) {
        family(name, type: "counter", help: help)
        sample(name, labels, Double(value))
    }

    mutating func gauge(_ name: String, help: String, _ value: Double) {
        family(name, type: "gauge", help: help)
        sample(name, [], value)
    }

    mutating func histogram(_ name: String, help: String, _ snapshot: AtomicHistogramSnapshot) {
        family(name, type: "histogram", help: help)
        for (bound, count) in zip(snapshot.bounds, snapshot.cumulative) {
            sample(name + "_bucket", [("le", Self.format(bound))], Double(count))
        }
        sample(name + "_bucket", [("le", "+Inf")], Double(snapshot.count))
        sample(name + "_sum", [], snapshot.sum)
        sample(name + "_count", [], Double(snapshot.count))
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeLabel(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }
}

import TetherCore
typealias AtomicHistogramSnapshot = AtomicHistogram.Snapshot
