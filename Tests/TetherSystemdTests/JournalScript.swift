import Foundation
import TetherTesting

/// Runs `scripts/NAME` inside a private journald (scripts/with-journald.sh) and splits its output
/// into the sections it marks with `=== name` lines. Throws with the output when it fails.
func runJournalScript(_ name: String, _ arguments: [String]) async throws -> [String: String] {
    var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") && $0.key != "JOURNAL_STREAM" }
    environment["TETHER_CATALOG"] = packageRoot.appendingPathComponent("deploy/systemd/tether.catalog").path
    let result = try await Command.run(
        packageRoot.appendingPathComponent("scripts/with-journald.sh").path,
        [packageRoot.appendingPathComponent("scripts/\(name)").path] + arguments,
        environment: environment
    )
    let output = result.output
    guard result.status == 0 else { throw RelayProcessError("\(name) failed (\(result.status)):\n\(output)") }
    var sections: [String: String] = [:]
    var current: String?
    for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("=== ") {
            current = String(line.dropFirst(4))
            sections[current!] = ""
        } else if let current {
            sections[current, default: ""] += line + "\n"
        }
    }
    return sections
}
