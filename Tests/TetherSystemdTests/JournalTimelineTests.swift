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
        try await runJournalScript("journal-timeline-check.sh", [RelayProcess.binary.path, client])
    }

    /// The journal entries of a section of `journalctl -o json` output.
    static func objects(_ section: String?) throws -> [[String: Any]] {
        try (section ?? "").split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test func connectionEntriesCarryEveryFieldAndTimelinePrintsTheStates() async throws {
        let client = "journal-test-\(UUID().uuidString.prefix(8))"
        let sections = try await Self.runCheck(client: client)

        let entries = try Self.objects(sections["json"])
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

    /// Every connection entry's MESSAGE names the client, the transport and the remote; the
    /// resumed entry carries the new connection's remote; a disconnect says how long and why.
    @Test func messagesNameTheClientAndTheResumeCarriesTheNewRemote() async throws {
        let client = "journal-msg-\(UUID().uuidString.prefix(8))"
        let entries = try Self.objects(try await Self.runCheck(client: client)["json"])
        func entry(_ event: String, _ index: Int = 0) -> [String: Any]? {
            entries.filter { $0["TETHER_EVENT"] as? String == event }.dropFirst(index).first
        }
        let connected = try #require(entry("connected"))
        #expect(connected["MESSAGE"] as? String == "client \(client) connected over simulated from 127.0.0.1:40001")
        let resumed = try #require(entry("resumed"))
        #expect(resumed["MESSAGE"] as? String == "client \(client) resumed after seq 5 over simulated from 127.0.0.1:40002")
        #expect(resumed["TETHER_REMOTE"] as? String == "127.0.0.1:40002", "the resumed entry names the new connection's remote")
        let reconnected = try #require(entry("connected", 1))
        #expect(reconnected["TETHER_REMOTE"] as? String == "127.0.0.1:40002")
        let disconnected = try #require(entry("disconnected"))
        let message = try #require(disconnected["MESSAGE"] as? String)
        #expect(message.hasPrefix("client \(client) disconnected after "), "\(message)")
        #expect(message.hasSuffix(" s: the client closed the connection"), "\(message)")
        #expect(disconnected["TETHER_REASON"] as? String == "the client closed the connection")
        let stale = try #require(entry("stale"))
        #expect((stale["MESSAGE"] as? String)?.hasPrefix("client \(client) went stale: ") == true)
        #expect(entry("disconnected", 1)?["TETHER_REASON"] as? String == "connection lost")
        #expect(entry("replay_gap")?["TETHER_REASON"] as? String == "3 events not delivered (lag_cap)")
    }

    /// Connection numbers go on across a relay restart (the relay's own conn ids start again),
    /// the table has a REASON column, and `--json` prints numbers as JSON numbers.
    @Test func timelineNumbersConnectionsAcrossRestartsWithReasonsAndTypedJSON() async throws {
        let client = "journal-restart-\(UUID().uuidString.prefix(8))"
        let sections = try await Self.runCheck(client: client)
        let rows = (sections["restart"] ?? "").split(separator: "\n")
        let header = try #require(rows.first)
        #expect(header.contains("REASON") && header.contains("REMOTE"), "\(header)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data((sections["restart-json"] ?? "").utf8)) as? [[String: Any]])
        #expect(json.count == 2 * Self.expectedEvents.count, "\(sections["restart-json"] ?? "")")
        let numbers = json.compactMap { $0["connection"] as? Int }
        let conns = json.compactMap { $0["conn_id"] as? Int }
        #expect(Set(conns.prefix(conns.count / 2)) == Set(conns.suffix(conns.count / 2)), "each run numbers its connections alike: \(conns)")
        var distinct: [Int] = []
        for number in numbers where distinct.last != number { distinct.append(number) }
        #expect(distinct == [1, 2, 3, 4], "connections of both runs, in order: \(numbers)")
        #expect(Set(json.compactMap { $0["invocation"] as? String }).count == 2)
        // Typed values: numbers are JSON numbers, not strings.
        let withLatency = try #require(json.first { $0["latency_ms"] != nil })
        #expect(withLatency["latency_ms"] is NSNumber && !(withLatency["latency_ms"] is String))
        #expect(json.allSatisfy { $0["seq"] == nil || $0["seq"] is NSNumber })
        #expect(json.allSatisfy { $0["quality"] == nil || $0["quality"] is NSNumber })
        #expect(json.contains { $0["reason"] as? String == "connection lost" })
        let disconnectRows = rows.filter { $0.contains(" disconnected ") || $0.contains("→ disconnected") }
        #expect(disconnectRows.contains { $0.hasSuffix("the client closed the connection") }, "\(sections["restart"] ?? "")")
        #expect(disconnectRows.contains { $0.hasSuffix("connection lost") })
        #expect(rows.contains { $0.contains("127.0.0.1:40002") })
    }

    /// `--since` takes what `journalctl --since` takes; `--directory` takes the journal root as
    /// well as the folder of .journal files.
    @Test func sinceAndDirectoryReadAsJournalctlDoes() async throws {
        let client = "journal-since-\(UUID().uuidString.prefix(8))"
        let sections = try await Self.runCheck(client: client)
        for name in ["since-yesterday", "since-today", "since-ago", "root", "files"] {
            let rows = (sections[name] ?? "").split(separator: "\n")
            #expect(rows.count == 1 + Self.expectedEvents.count, "\(name):\n\(sections[name] ?? "")")
            #expect(rows.first?.hasPrefix("TIME") == true, "\(name)")
        }
    }
}
