import Foundation
import Testing
import TetherCore
import TetherTesting

/// What a person sees on the dashboard, in Chromium against the real relay (`browser/views.py`):
/// charts, the layout from 360 to 1920 px in light and dark, toasts, and the close-code table
/// as the page follows it. Screenshots land in `.build/dashboard-screenshots/`.
@Suite("Dashboard views in Chromium", .serialized)
struct DashboardViewTests {
    typealias Browser = DashboardBrowserTests

    @Test func chartsDrawLatencyRatesLagQualityAndTheTimelineWithReconnectsAndGaps() async throws {
        try Browser.requirements()
        let relay = try await RelayProcess.start(environment: ["TETHER_LAG_CAP": "5"])
        let result = try await Browser.result(of: try Browser.start("charts", base: relay.baseURL))
        await relay.terminate()

        #expect((result["latency_points"] as? Int ?? 0) >= 5)
        #expect(result["latency_references"] as? [String] == ["p50", "p95", "p99"])
        let yLabels = try #require(result["latency_axis_labels"] as? [String])
        #expect(yLabels.count == 5 && yLabels.first == "0" && yLabels.last?.hasSuffix("ms") == true, "y axis: \(yLabels)")
        let xLabels = try #require(result["time_axis_labels"] as? [String])
        #expect(xLabels.last == "now" && xLabels.first == "−60 s", "time axis of a page younger than a minute: \(xLabels)")
        #expect((result["latency_summary"] as? String)?.contains("p95") == true)
        #expect((result["received_max"] as? Int ?? 0) >= 1)
        #expect((result["received_points"] as? Int ?? 0) >= 3)
        let relaySeries = try #require(result["relay_series"] as? [[Any]])
        #expect(relaySeries.map { $0[0] as? String } == ["published", "delivered"])
        #expect(relaySeries.allSatisfy { ($0[1] as? Int ?? 0) >= 2 }, "relay series: \(relaySeries)")
        #expect((result["relay_published_max"] as? Double ?? 0) > 0)
        #expect((result["lag_points"] as? Int ?? 0) >= 1)
        let quality = try #require(result["quality_series"] as? [[Any]])
        #expect(quality.allSatisfy { ($0[1] as? Int ?? 0) >= 1 }, "quality series: \(quality)")
        let states = try #require(result["strip_states"] as? [String])
        let reconnecting = try #require(states.firstIndex(of: "reconnecting"), "strip: \(states)")
        #expect(states[..<reconnecting].contains("connected") && states[reconnecting...].contains("connected"), "strip: \(states)")
        let markers = try #require(result["strip_markers"] as? [String])
        #expect(markers.contains("reconnect") && markers.contains("gap"), "markers: \(markers)")
        #expect((result["gap_toast"] as? [String])?.first?.contains("this page fell too far behind") == true, "\(result["gap_toast"] ?? "")")
    }

    @Test func layoutHoldsFrom360To1920PixelsInLightAndDark() async throws {
        try Browser.requirements()
        let relay = try await RelayProcess.start()
        let result = try await Browser.result(of: try Browser.start("layout", base: relay.baseURL), timeout: 240)
        await relay.terminate()

        let views = try #require(result["views"] as? [String: [String: Any]])
        #expect(views.count == 10)
        for (name, view) in views.sorted(by: { $0.key < $1.key }) {
            let width = try #require(view["viewport"] as? Int)
            #expect(view["pageWidth"] as? Int ?? .max <= width, "\(name): the page scrolls sideways")
            #expect(view["table_inside_card"] as? Bool == true, "\(name): the clients table overflows its card")
            #expect(view["tableScrolls"] as? Bool == false, "\(name): the clients table needs a sideways scroll")
            #expect((view["data_column_width"] as? Int ?? 0) >= 60, "\(name): the data column is \(view["data_column_width"] ?? 0) px")
            #expect(view["data_column_inside_viewport"] as? Bool == true, "\(name): the data column is off screen")
            #expect(view["underscore_clipped"] as? Bool == false, "\(name): the event data's underscores are clipped")
            #expect(view["topic_underscore_clipped"] as? Bool == false, "\(name): the topic's underscores are clipped")
            #expect((view["toasts_over_controls"] as? [Any])?.isEmpty == true, "\(name): toasts over controls: \(view["toasts_over_controls"] ?? "")")
            let charts = try #require(view["chartWidths"] as? [Int])
            #expect(charts.allSatisfy { $0 > 150 && $0 <= width }, "\(name): chart widths \(charts)")
            // prefers-color-scheme: a dark page in the dark scheme, a light one otherwise.
            let background = try #require(view["background"] as? String)
            let channels = background.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.prefix(3)
            let brightness = channels.reduce(0, +)
            #expect(name.hasSuffix("dark") ? brightness < 150 : brightness > 600, "\(name): background \(background)")
        }
    }

    @Test func toastsAreDeduplicatedCappedNewestFirstHumanAndNeverOverControls() async throws {
        try Browser.requirements()
        let relay = try await RelayProcess.start()
        let result = try await Browser.result(of: try Browser.start("toasts", base: relay.baseURL))
        await relay.terminate()

        for width in [360, 1400] {
            let run = try #require(result["toasts_\(width)"] as? [String: Any])
            let toasts = try #require(run["texts"] as? [[Any]])
            let texts = toasts.compactMap { $0.first as? String }
            #expect(texts.count == 3, "\(width) px: \(texts)")
            #expect(texts.first == "The newest notice.", "\(width) px, newest on top: \(texts)")
            #expect(Set(texts).count == texts.count, "\(width) px, duplicates: \(texts)")
            #expect(texts.contains("The data is not valid JSON; nothing was published."), "\(width) px: \(texts)")
            #expect((run["over_controls"] as? [Any])?.isEmpty == true, "\(width) px: \(run["over_controls"] ?? "")")
            let lost = CloseCodeTable.rule(for: 1006).text
            #expect(run["connection_lost_text"] as? String == lost)
            #expect((run["after_disconnect"] as? [String])?.contains(lost) == true, "\(width) px: \(run["after_disconnect"] ?? "")")
        }
        let dedup = try #require(result["dedup"] as? [[Any]])
        let same = dedup.filter { $0.first as? String == "Same notice." }
        #expect(same.count == 1 && same.first?.last as? String == "3", "\(dedup)")
    }

    @Test func pageFollowsTheCloseCodeTable() async throws {
        try Browser.requirements()
        let relay = try await RelayProcess.start()
        let result = try await Browser.result(of: try Browser.start("closecodes", base: relay.baseURL))
        await relay.terminate()

        let rules = try #require(result["page_rules"] as? [[Any]])
        #expect(rules.count > 30)
        for row in rules {
            let code = try #require(row[0] as? Int)
            let swift = CloseCodeTable.rule(for: code)
            #expect(row[1] as? String == swift.action.rawValue, "close \(code): page \(row[1]), CloseCodeTable \(swift.action)")
            #expect(row[2] as? String == swift.text, "close \(code)")
            #expect(row[3] as? Bool == swift.action.reconnects, "close \(code)")
        }
        // The state machine is the table docs/DASHBOARD.md shows, and refuses what it does not list.
        let transitions = try #require(result["transitions"] as? [String: [String]])
        let page = try String(contentsOf: Browser.root.appendingPathComponent("docs/DASHBOARD.md"), encoding: .utf8)
        var documented: [String: [String]] = [:]
        for line in page.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let state = cells.first?.trimmingCharacters(in: CharacterSet(charactersIn: "`")) ?? ""
            guard cells.count == 2, transitions[state] != nil else { continue }  // the state table's rows only
            documented[state] = cells[1].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " `")) }
        }
        #expect(documented == transitions, "docs/DASHBOARD.md: \(documented)\nconnection-states.js: \(transitions)")
        let refused = try #require(result["refused_transition"] as? [Any])
        #expect(refused.first is NSNull && refused.last as? String == "failed", "\(refused)")

        let first = try #require(result["first_id"] as? String)
        let after4501 = try #require(result["after_4501"] as? [String: Any])
        #expect(after4501["state"] as? String == "connected" && after4501["id"] as? String == first, "4501 keeps the identity: \(after4501)")
        let after4503 = try #require(result["after_4503"] as? [String: Any])
        #expect(after4503["state"] as? String == "connected" && after4503["id"] as? String != first, "4503 takes a new identity: \(after4503)")
        let after4504 = try #require(result["after_4504"] as? [String: Any])
        #expect(after4504["state"] as? String == "disconnected" && after4504["reconnectScheduled"] as? Bool == false, "\(after4504)")
        #expect((result["toasts_4504"] as? [String])?.contains(CloseCodeTable.rule(for: 4504).text) == true, "\(result["toasts_4504"] ?? "")")
        let after4500 = try #require(result["after_4500"] as? [String: Any])
        #expect(after4500["state"] as? String == "failed" && after4500["close"] as? Int == 4500)
        #expect((result["toasts_4500"] as? [String])?.contains(CloseCodeTable.rule(for: 4500).text) == true, "\(result["toasts_4500"] ?? "")")
        #expect((result["badge_4500"] as? String)?.hasPrefix("Failed") == true)
    }
}
