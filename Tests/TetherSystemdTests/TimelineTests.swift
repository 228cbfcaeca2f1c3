import Foundation
import Testing
import TetherSystemd

@Suite struct TimelineTests {
    static func entry(_ seconds: Double, _ fields: [String: String]) -> JournalEntry {
        JournalEntry(realtimeMicroseconds: UInt64(seconds * 1_000_000), fields: fields)
    }

    @Test func tableShowsStateChangesInOrderAndSkipsOtherEntries() {
        let timeline = Timeline(clientID: "c-1", journal: [
            Self.entry(0, ["TETHER_EVENT": "connected", "TETHER_PREV_STATE": "connecting", "TETHER_STATE": "connected", "TETHER_TRANSPORT": "websocket", "TETHER_SEQ": "5", "TETHER_QUALITY": "1.0", "TETHER_CONN_ID": "7"]),
            Self.entry(1, ["MESSAGE": "not a connection event"]),
            Self.entry(2, ["TETHER_EVENT": "replay_gap", "TETHER_STATE": "connected", "TETHER_LATENCY_MS": "12.5"]),
        ])
        #expect(timeline.entries.map(\.event) == ["connected", "replay_gap"])
        let lines = timeline.table(timeZone: TimeZone(identifier: "UTC")!).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("TIME"))
        #expect(lines[1].hasPrefix("1970-01-01 00:00:00.000"))
        #expect(lines[1].contains("connecting → connected"))
        #expect(lines[1].contains("websocket"))
        #expect(lines[2].contains("12.5 ms"))
    }

    @Test func jsonNamesTheWireFields() throws {
        let timeline = Timeline(clientID: "c-1", journal: [Self.entry(1.5, ["TETHER_EVENT": "stale", "TETHER_PREV_STATE": "connected", "TETHER_STATE": "stale"])])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(timeline.json().utf8)) as? [[String: Any]])
        #expect(array.first?["event"] as? String == "stale")
        #expect(array.first?["prev_state"] as? String == "connected")
        #expect(array.first?["time"] as? String == "1970-01-01T00:00:01.500Z")
    }

    @Test func sinceAcceptsSpansAndTimes() {
        let now = Date(timeIntervalSince1970: 100_000)
        let utc = TimeZone(identifier: "UTC")!
        #expect(Timeline.parseSince("15m", now: now) == now.addingTimeInterval(-900))
        #expect(Timeline.parseSince("-2h", now: now) == now.addingTimeInterval(-7200))
        #expect(Timeline.parseSince("1d ago", now: now) == now.addingTimeInterval(-86_400))
        #expect(Timeline.parseSince("30s", now: now) == now.addingTimeInterval(-30))
        #expect(Timeline.parseSince("1970-01-02 03:46:40", now: now, timeZone: utc) == now)
        #expect(Timeline.parseSince("1970-01-02T03:46:40Z", now: now) == now)
        #expect(Timeline.parseSince("yesterday-ish", now: now) == nil)
    }

    @Test func sinceAcceptsJournalctlWords() {
        let utc = TimeZone(identifier: "UTC")!
        let now = Date(timeIntervalSince1970: 2 * 86_400 + 3600 * 5 + 42)  // 1970-01-03 05:00:42 UTC
        let midnight = Date(timeIntervalSince1970: 2 * 86_400)
        #expect(Timeline.parseSince("now", now: now, timeZone: utc) == now)
        #expect(Timeline.parseSince("today", now: now, timeZone: utc) == midnight)
        #expect(Timeline.parseSince("yesterday", now: now, timeZone: utc) == midnight.addingTimeInterval(-86_400))
        #expect(Timeline.parseSince("tomorrow", now: now, timeZone: utc) == midnight.addingTimeInterval(86_400))
        #expect(Timeline.parseSince("1 hour ago", now: now) == now.addingTimeInterval(-3600))
        #expect(Timeline.parseSince("-1h 30min", now: now) == now.addingTimeInterval(-5400))
        #expect(Timeline.parseSince("2 days ago", now: now) == now.addingTimeInterval(-172_800))
        #expect(Timeline.parseSince("+10s", now: now) == now.addingTimeInterval(10))
        #expect(Timeline.parseSince("04:30", now: now, timeZone: utc) == midnight.addingTimeInterval(4.5 * 3600))
        #expect(Timeline.parseSince("@86400", now: now) == Date(timeIntervalSince1970: 86_400))
        #expect(Timeline.parseSince("1970-01-02 00:00:00.500", now: now, timeZone: utc) == Date(timeIntervalSince1970: 86_400.5))
        #expect(Timeline.parseSince("25:00", now: now, timeZone: utc) == nil)
        #expect(Timeline.parseSince("1 fortnight ago", now: now) == nil)
    }

    @Test func connectionsAreNumberedAcrossRelayRunsAndJSONIsTyped() throws {
        func entry(_ seconds: Double, _ pid: String, _ conn: String, _ event: String) -> JournalEntry {
            Self.entry(seconds, ["TETHER_EVENT": event, "TETHER_CONN_ID": conn, "_BOOT_ID": "b", "_PID": pid, "TETHER_SEQ": "3", "TETHER_LATENCY_MS": "12.5", "TETHER_REASON": "why"])
        }
        let timeline = Timeline(clientID: "c-1", journal: [
            entry(0, "10", "1", "connected"), entry(1, "10", "1", "disconnected"),
            entry(2, "11", "1", "connected"), entry(3, "11", "2", "connected"),
        ])
        #expect(timeline.entries.map(\.connection) == [1, 1, 2, 3])
        let array = try #require(try JSONSerialization.jsonObject(with: Data(timeline.json().utf8)) as? [[String: Any]])
        #expect(array[0]["seq"] as? Int == 3)
        #expect(array[0]["conn_id"] as? Int == 1)
        #expect(array[0]["latency_ms"] as? Double == 12.5)
        #expect(array[3]["connection"] as? Int == 3)
        #expect(timeline.table().split(separator: "\n")[1].hasSuffix("why"))
    }
}
