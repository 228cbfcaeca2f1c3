import Foundation
import Testing
import TetherCore

/// The close-code table has one source, TetherCore's `CloseCodeTable`; the dashboard's copy
/// (`Dashboard/js/close-codes.js`) and docs/PROTOCOL.md's table must say the same thing.
@Suite struct CloseCodeTableTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The text between two marker lines of a file in the repository.
    static func section(of path: String, between begin: String, and end: String) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        let start = try #require(text.range(of: begin), "\(path) has no \(begin)")
        let stop = try #require(text.range(of: end, range: start.upperBound..<text.endIndex), "\(path) has no \(end)")
        return String(text[start.upperBound..<stop.lowerBound])
    }

    @Test func dashboardCopyEqualsTheSwiftTable() throws {
        let section = try Self.section(of: "Dashboard/js/close-codes.js", between: "// close-code-table:begin", and: "// close-code-table:end")
        let open = try #require(section.firstIndex(of: "["))
        let close = try #require(section.lastIndex(of: "]"))
        let json = Data(section[open...close].utf8)
        let copy = try JSONDecoder().decode([CloseCodeRule].self, from: json)
        #expect(copy.count == CloseCodeTable.rules.count)
        for (index, (js, swift)) in zip(copy, CloseCodeTable.rules).enumerated() {
            #expect(js == swift, "row \(index) differs: Dashboard/js/close-codes.js has \(js), CloseCodeTable has \(swift)")
        }
    }

    @Test func protocolPageListsTheSwiftTable() throws {
        let section = try Self.section(of: "docs/PROTOCOL.md", between: "<!-- close-code-table:begin -->", and: "<!-- close-code-table:end -->")
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.first(where: \.isNumber) != nil && !$0.hasPrefix("| close") }
        let expected = CloseCodeTable.rules.map { rule in
            let codes = rule.from == rule.to ? "\(rule.from)" : "\(rule.from)–\(rule.to)"
            return "| \(codes) | `\(rule.name)` | `\(rule.action)` | \(rule.text) |"
        }
        #expect(rows.map(String.init) == expected)
    }

    /// What an experienced client author expects of the codes the relay and the network produce.
    @Test(arguments: [
        (1000, CloseCodeRule.Action.reconnect), (1001, .reconnect), (1005, .reconnect), (1006, .reconnect),
        (1011, .reconnect), (1012, .reconnect), (1013, .reconnect), (4001, .reconnect), (4002, .reconnect),
        (4200, .reconnect), (3008, .reconnect), (2999, .reconnect),
        (1002, .fail), (1003, .fail), (1007, .fail), (1008, .fail), (1009, .fail), (3000, .fail), (3003, .fail),
        (4500, .fail), (4510, .fail), (4511, .fail), (4999, .fail),
        (4501, .reconnectWithoutPosition), (4503, .reconnectAsNewClient), (4504, .stop),
    ])
    func eachCodeHasTheExpectedAction(code: Int, action: CloseCodeRule.Action) {
        #expect(CloseCodeTable.rule(for: code).action == action, "close \(code)")
    }

    @Test func everyRowHasANameAndAnActionableText() {
        for rule in CloseCodeTable.rules {
            #expect(rule.from <= rule.to && !rule.name.isEmpty && rule.text.count > 20, "\(rule)")
        }
    }
}
