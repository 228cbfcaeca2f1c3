import Foundation
import Testing
import TetherTesting

/// What one client asks for costs the relay a bounded amount of memory, whatever the log holds:
/// a poll page ends at about 1 MiB (always at least one event), so clients that ask for
/// everything and then read slowly hold pages, not the log.
@Suite("Response bounds", .serialized)
struct ResponseBoundsTests {
    static let eventBytes = 500_000
    static let events = 80  // a 40 MB log

    static func publishLargeLog(_ relay: RelayProcess) async throws {
        let payload = String(repeating: "x", count: eventBytes)
        for batch in 0..<(events / 10) {
            let body = "[" + (0..<10).map { #"{"topic":"big","data":"\#(payload)","id":"big-\#(batch)-\#($0)"}"# }.joined(separator: ",") + "]"
            let answer = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/json"])
            try #require(answer.status == 202, "publish answered \(answer.status)")
        }
    }

    @Test func aPollPageIsBoundedInBytesAndPagingReadsTheWholeLog() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_LIMITS_MAX_EVENT_BYTES": "600000"])
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        try await Self.publishLargeLog(relay)

        var after = 0
        var seen: [Int] = []
        for _ in 0..<(Self.events + 5) where seen.count < Self.events {
            let page = try await relay.http("GET", "/v1/events?after=\(after)&limit=10000")
            #expect(page.status == 200)
            #expect(page.body.count < 2 << 20, "one page holds \(page.body.count) bytes")
            let object = try #require(try JSONSerialization.jsonObject(with: page.body) as? [String: Any])
            #expect(object["head"] as? Int == Self.events)
            let seqs = (object["events"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
            try #require(!seqs.isEmpty, "a page after \(after) came back empty before the head")
            seen += seqs
            after = seqs.last!
        }
        #expect(seen == Array(1...Self.events), "paging by the last seq read the log in order, once")
        _ = await relay.terminate()
    }

    /// The report's case: four polls for the whole of a large log from clients that do not read.
    /// Before, each materialised and encoded every event it asked for (1.8 GB for a 200 MB log).
    @Test func slowPollsForALargeLogHoldOnlyPages() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_LIMITS_MAX_EVENT_BYTES": "600000"])
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        try await Self.publishLargeLog(relay)
        _ = try await relay.http("GET", "/v1/events?after=0&limit=1")  // warm the route
        let before = try #require(relay.residentBytes)

        var slow: [RawTCPConnection] = []
        for _ in 0..<4 {
            let connection = try RawTCPConnection(port: relay.port)
            try await connection.send("GET /v1/events?after=0&limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            slow.append(connection)
        }
        // Give the relay time to build and start writing the four answers; poll RSS meanwhile.
        var peak = before
        for _ in 0..<20 {
            try await Task.sleep(for: .milliseconds(100))
            peak = max(peak, relay.residentBytes ?? 0)
        }
        let growth = peak - before
        print("four slow polls of a \((Self.events * Self.eventBytes) >> 20) MB log grew the relay's RSS by \(growth >> 10) KB")
        #expect(growth < 32 << 20, "four slow polls grew RSS by \(growth >> 20) MB (the log is \((Self.events * Self.eventBytes) >> 20) MB)")
        #expect(try await relay.http("GET", "/healthz").status == 200)
        for connection in slow { connection.close() }
        _ = await relay.terminate()
    }
}
