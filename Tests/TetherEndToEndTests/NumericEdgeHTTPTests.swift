import Foundation
import Testing
import TetherTesting

/// Every numeric edge (`NumericEdge.table`) in every number an HTTP client sends: `GET
/// /v1/events?after=&limit=`, `GET /v1/stream?history=` and `Last-Event-ID` (`EPOCH:N` and a
/// bare `N`), against the real binary with a non-empty log. Each value gets its exact answer
/// (400 `malformed` when refused), the relay stays up, and a bystander misses nothing. Before
/// issue 15's fix, `after=2^63` and beyond killed the relay.
@Suite("Numeric edges over HTTP and SSE", .serialized)
struct NumericEdgeHTTPTests {
    @Test func pollParametersTakeWholeNumbersUpTo2pow63Minus1() async throws {
        var harness = try await NumericEdgeRelay.start()
        for edge in NumericEdge.table {
            for parameter in ["after", "limit"] {
                let name = "\(parameter)=\(edge.name)"
                let head = harness.head
                let (status, text) = try await harness.request("/v1/events?\(parameter)=\(edge.queryValue)")
                let all = head == 0 ? [] : Array(1...Int(head))
                switch (parameter, edge.digits) {
                case ("after", let after?):
                    #expect(status == 200, "\(name): \(text.prefix(300))")
                    let owed = after >= head ? [] : Array(all[Int(after)...].prefix(100))
                    #expect(HostileInputSuiteTests.seqs(text) == owed, "\(name): \(text.suffix(200))")
                case ("limit", let limit?) where limit <= 10_000:
                    #expect(status == 200, "\(name): \(text.prefix(300))")
                    #expect(HostileInputSuiteTests.seqs(text) == Array(all.prefix(Int(limit))), "\(name): \(text.suffix(200))")
                default:
                    #expect(status == 400 && text.contains(#""code":"malformed""#), "\(name): \(status) \(text.prefix(300))")
                }
                try await harness.survived(name)
            }
        }
        await harness.finish()
    }

    @Test func streamHistoryAndLastEventIDTakeWholeNumbersUpTo2pow63Minus1() async throws {
        var harness = try await NumericEdgeRelay.start()
        for edge in NumericEdge.table {
            // history=N: the newest N events.
            var head = harness.head
            var (status, text) = try await harness.request("/v1/stream?history=\(edge.queryValue)")
            if let count = edge.digits.map({ min($0, head) }) {
                #expect(status == 200 && text.contains(Self.replay(from: head - count + 1, to: head, count: count, reset: false)), "history=\(edge.name): \(text.suffix(300))")
            } else {
                #expect(status == 400 && text.contains(#""code":"malformed""#), "history=\(edge.name): \(status) \(text.suffix(300))")
            }
            try await harness.survived("history=\(edge.name)")

            // Last-Event-ID: EPOCH:N resumes after N of this epoch; past the head is refused.
            head = harness.head
            (status, text) = try await harness.request("/v1/stream", headers: ["Last-Event-ID: \(harness.epoch):\(edge.text)"])
            switch edge.digits {
            case let last? where last <= head:
                #expect(status == 200 && text.contains(Self.replay(from: last + 1, to: head, count: head - last, reset: false)), "Last-Event-ID EPOCH:\(edge.name): \(text.suffix(300))")
            case .some:
                #expect(status == 400 && text.contains(#""code":"future_sequence""#), "Last-Event-ID EPOCH:\(edge.name): \(status) \(text.suffix(300))")
            case nil:
                #expect(status == 400 && text.contains(#""code":"malformed""#), "Last-Event-ID EPOCH:\(edge.name): \(status) \(text.suffix(300))")
            }
            try await harness.survived("Last-Event-ID EPOCH:\(edge.name)")

            // Last-Event-ID: N of an unknown epoch: past the head means another log (reset). HTTP
            // strips a header value's leading white space; an empty id asks for nothing.
            head = harness.head
            (status, text) = try await harness.request("/v1/stream", headers: ["Last-Event-ID: \(edge.text)"])
            let bare = edge.text == " 1" ? 1 : edge.digits
            switch bare {
            case _ where edge.text.isEmpty:
                #expect(status == 200 && text.contains(Self.replay(from: head + 1, to: head, count: 0, reset: false)), "Last-Event-ID empty: \(text.suffix(300))")
            case let last? where last <= head:
                #expect(status == 200 && text.contains(Self.replay(from: last + 1, to: head, count: head - last, reset: false)), "Last-Event-ID \(edge.name): \(text.suffix(300))")
            case .some:
                #expect(status == 200 && text.contains(Self.replay(from: 1, to: head, count: head, reset: true)), "Last-Event-ID \(edge.name): \(text.suffix(300))")
            case nil:
                #expect(status == 400 && text.contains(#""code":"malformed""#), "Last-Event-ID \(edge.name): \(status) \(text.suffix(300))")
            }
            try await harness.survived("Last-Event-ID \(edge.name)")
        }
        await harness.finish()
    }

    /// The `replay` member of a welcome (SSE and WebSocket write it alike).
    static func replay(from: UInt64, to: UInt64, count: UInt64, reset: Bool) -> String {
        #""replay":{"from":\#(from),"to":\#(to),"count":\#(count),"reset":\#(reset)}"#
    }
}
