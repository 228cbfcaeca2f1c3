import Foundation
import Testing
import TetherSystemd
import TetherTesting

/// A throw-away journald (scripts/with-journald.sh): the relay core logs one client's connection
/// events through ``JournalLogHandler``; `journalctl` and `tether timeline` read them back.
@Suite("journald connection timeline")
struct JournalTimelineTests {
    static let expectedEvents = ["connected", "disconnected", "resumed", "connected", "replay_gap", "stale", "disconnected"]

    /// Runs scripts/journal-timeline-check.sh in the private journal; returns its sections.
    static func runCheck(client: String) async throws -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") && $0.key != "JOURNAL_STREAM" }
        environment["TETHER_CATALOG"] = packageRoot.appendingPathComponent("deploy/systemd/tether.catalog").path
        let result = try await Command.run(
            packageRoot.appendingPathComponent("scripts/with-journald.sh").path,
            [packageRoot.appendingPathComponent("scripts/journal-timeline-check.sh").path, RelayProcess.binary.path, client],
            environment: environment
        )
        let output = result.output
        guard result.status == 0 else { throw RelayProcessError("journal check failed (\(result.status)):\n\(output)") }
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

    @Test func connectionEntriesCarryEveryFieldAndTimelinePrintsTheStates() async throws {
        let client = "journal-test-\(UUID().uuidString.prefix(8))"
        let sections = try await Self.runCheck(client: client)

        let entries = try (sections["json"] ?? "").split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let events = entries.compactMap { $0["TETHER_EVENT"] as? String }
        #expect(events == Self.expectedEvents, "journal: \(sections["json"] ?? "")")
        for entry in entries {
            for field in ["MESSAGE", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "MESSAGE_ID",
                          "TETHER_CLIENT_ID", "TETHER_CONN_ID", "TETHER_TRANSPORT", "TETHER_STATE", "TETHER_QUALITY", "TETHER_REMOTE"] {
                #expect(entry[field] != nil, "\(field) missing in \(entry)")
            }
            #expect(entry["SYSLOG_IDENTIFIER"] as? String == "tether")
            #expect(entry["TETHER_CLIENT_ID"] as? String == client)
            #expect(entry["TETHER_TRANSPORT"] as? String == "simulated")
            let event = try #require(entry["TETHER_EVENT"] as? String)
            #expect(entry["MESSAGE_ID"] as? String == JournalCatalog.messageIDs[event])
            #expect((entry["CODE_FILE"] as? String)?.contains("shim.h") == false, "location must be the Swift caller's")
        }
        // Fields that only some kinds carry: each appears where it belongs.
        let transitions = entries.filter { $0["TETHER_PREV_STATE"] != nil }
        #expect(transitions.count == 6)
        #expect(entries.contains { $0["TETHER_SEQ"] != nil })
        #expect(entries.contains { ($0["TETHER_LATENCY_MS"] as? String) == "12.0" })
        #expect(entries.contains { ($0["PRIORITY"] as? String) == "4" && ($0["TETHER_EVENT"] as? String) == "stale" })

        let table = (sections["timeline"] ?? "").split(separator: "\n")
        #expect(table.first?.hasPrefix("TIME") == true)
        let changes = table.dropFirst().map { row in
            // Longest first: "reconnecting → connected" contains "connecting → connected".
            ["reconnecting → connected", "disconnected → reconnecting", "connecting → connected", "connected → disconnected", "stale → disconnected", "connected → stale"]
                .first { row.contains($0) } ?? (row.contains("replay_gap") ? "gap" : "?")
        }
        #expect(changes == ["connecting → connected", "connected → disconnected", "disconnected → reconnecting", "reconnecting → connected", "gap", "connected → stale", "stale → disconnected"], "timeline:\n\(sections["timeline"] ?? "")")
        #expect(table.contains { $0.contains("12.0 ms") && $0.contains("simulated") })

        let json = try #require(try JSONSerialization.jsonObject(with: Data((sections["timeline-json"] ?? "").utf8)) as? [[String: Any]])
        #expect(json.compactMap { $0["event"] as? String } == Self.expectedEvents)

        #expect(sections["explain"]?.contains("No traffic and no heartbeat arrived from the client") == true, "explain:\n\(sections["explain"] ?? "")")
    }
}
