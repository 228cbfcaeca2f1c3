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
}
