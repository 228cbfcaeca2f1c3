import Foundation

extension RelayProcess {
    /// The relay's resident set size in bytes (`VmRSS` in `/proc/PID/status`), or `nil` when it
    /// cannot be read (the process is gone, or no `/proc`).
    public var residentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// The value of the Prometheus sample `series` (name and labels as rendered, e.g.
    /// `tether_connection_slots{pool="pending"}`) in `/metrics`, or `nil` when it is absent.
    public func metric(_ series: String) async throws -> Double? {
        let text = String(decoding: try await http("GET", "/metrics").body, as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.dropFirst(series.count + 1)) }
    }
}
