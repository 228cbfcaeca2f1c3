import Foundation
import Testing
import TetherTesting

/// The real `tether serve` process, driven over HTTP on 127.0.0.1.
@Suite("HTTP surface of a running relay")
struct HTTPSurfaceTests {
    static let json = ["Content-Type": "application/json"]

    @Test func publishedEventsReadBackInOrderWithTheirBytes() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let one = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"a","data":{"x":1.50}}"#.utf8), headers: Self.json)
        #expect(one.status == 202)
        #expect(try accepted(one.body) == [1])
        let batch = try await relay.http(
            "POST", "/v1/events", body: Data(#"[{"topic":"b","data":[1,2]},{"topic":"c","data":"é\n"}]"#.utf8), headers: Self.json)
        #expect(batch.status == 202)
        #expect(try accepted(batch.body) == [2, 3])
        let ndjson = try await relay.http(
            "POST", "/v1/events", body: Data("{\"topic\":\"d\",\"data\":null}\n\n{\"topic\":\"e\"}\n".utf8),
            headers: ["Content-Type": "application/x-ndjson"])
        #expect(ndjson.status == 202)
        #expect(try accepted(ndjson.body) == [4, 5])

        let read = try await relay.http("GET", "/v1/events?after=1&limit=3")
        #expect(read.status == 200)
        let text = String(decoding: read.body, as: UTF8.self)
        // The payload is spliced in as sent: 1.50 stays 1.50, the escape stays an escape.
        #expect(!text.contains("1.50"))  // seq 1 is not after 1
        #expect(text.contains(#""data":[1,2]"#))
        #expect(text.contains(#""data":"é\n""#))
        let object = try #require(try HTTP.json(read.body) as? [String: Any])
        let events = try #require(object["events"] as? [[String: Any]])
        #expect(events.compactMap { $0["seq"] as? Int } == [2, 3, 4])
        #expect(events.compactMap { $0["topic"] as? String } == ["b", "c", "d"])
        #expect(object["head"] as? Int == 5)
        #expect((object["epoch"] as? String)?.count == 16)
        let first = try await relay.http("GET", "/v1/events?after=0&limit=1")
        #expect(String(decoding: first.body, as: UTF8.self).contains(#""data":{"x":1.50}"#))
        #expect(await relay.terminate() == 0)
    }

    @Test func repeatedProducerIDIsNotDuplicated() async throws {
        let relay = try await RelayProcess.start()
        let body = Data(#"{"topic":"t","data":1,"id":"order-17"}"#.utf8)
        let first = try await relay.http("POST", "/v1/events", body: body, headers: Self.json)
        let retry = try await relay.http("POST", "/v1/events", body: body, headers: Self.json)
        #expect(try accepted(first.body) == [1])
        #expect(try accepted(retry.body) == [1])
        let read = try await relay.http("GET", "/v1/events?after=0")
        let events = try #require((try HTTP.json(read.body) as? [String: Any])?["events"] as? [Any])
        #expect(events.count == 1)
        await relay.terminate()
    }

    /// Each bad request gets its status and JSON error code, and stores nothing.
    @Test(arguments: [
        BadRequest("malformed JSON", #"{"topic": "a", "data": }"#, status: 400, code: "malformed"),
        BadRequest("truncated", #"{"topic": "a""#, status: 400, code: "malformed"),
        BadRequest("invalid UTF-8", "{\"topic\":\"a\",\"data\":\"\u{FFFD}\"}", status: 400, code: "malformed", invalidUTF8: true),
        BadRequest("not an object", #"[1]"#, status: 400, code: "invalid_event"),
        BadRequest("missing topic", #"{"data": 1}"#, status: 400, code: "invalid_event"),
        BadRequest("empty topic", #"{"topic": "", "data": 1}"#, status: 400, code: "invalid_event"),
        BadRequest("topic not a string", #"{"topic": 7, "data": 1}"#, status: 400, code: "invalid_event"),
        BadRequest("bad item spoils the batch", #"[{"topic":"ok","data":1},{"data":2}]"#, status: 400, code: "invalid_event"),
        BadRequest("empty array", #"[]"#, status: 400, code: "invalid_event"),
        BadRequest("too deep", String(repeating: "[", count: 100) + String(repeating: "]", count: 100), status: 400, code: "malformed"),
        BadRequest("oversized event", #"{"topic":"a","data":""# + String(repeating: "x", count: 2048) + #""}"#, status: 413, code: "too_large"),
        BadRequest("unknown content type", #"{"topic":"a","data":1}"#, status: 415, code: "unsupported_media_type", contentType: "text/plain"),
    ])
    func badInputIsRefusedAndStoresNothing(_ bad: BadRequest) async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_LIMITS_MAX_EVENT_BYTES": "1024"])
        var body = Data(bad.body.utf8)
        if bad.invalidUTF8 { body = Data(#"{"topic":"a","data":""#.utf8) + Data([0xC3, 0x28]) + Data(#""}"#.utf8) }
        let response = try await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": bad.contentType])
        #expect(response.status == bad.status, "\(bad.name): \(String(decoding: response.body, as: UTF8.self))")
        let error = try #require((try HTTP.json(response.body) as? [String: Any])?["error"] as? [String: Any])
        #expect(error["code"] as? String == bad.code)
        #expect((error["message"] as? String)?.isEmpty == false)
        let read = try await relay.http("GET", "/v1/events?after=0")
        #expect((try HTTP.json(read.body) as? [String: Any])?["head"] as? Int == 0)
        // The relay is still healthy and accepts good input.
        let good = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"a","data":1}"#.utf8), headers: Self.json)
        #expect(good.status == 202)
        await relay.terminate()
    }

    @Test func healthAndReadinessAnswer() async throws {
        let relay = try await RelayProcess.start()
        let ready = try await relay.http("GET", "/readyz")
        #expect(ready.status == 200)
        #expect((try HTTP.json(ready.body) as? [String: Any])?["ready"] as? Bool == true)
        let health = try await relay.http("GET", "/healthz")
        #expect(health.status == 200)
        let missing = try await relay.http("GET", "/v1/nothing-here")
        #expect(missing.status == 404)
        #expect(((try HTTP.json(missing.body) as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "not_found")
        let badQuery = try await relay.http("GET", "/v1/events?after=minus")
        #expect(badQuery.status == 400)
        await relay.terminate()
    }

    @Test(arguments: [
        (["--store", "nonesuch"], [String: String](), "unknown store plugin \"nonesuch\"; this build has: sqlite, memory"),
        (["--listen", "nowhere"], [:], "listen \"nowhere\" (from --listen) is not HOST:PORT"),
        ([], ["TETHER_LAG_CAP": "lots"], "lag-cap \"lots\" (from TETHER_LAG_CAP) is not a whole number from 1 to 10000000"),
        ([], ["TETHER_RETENTION_TTL": "-5"], "retention.ttl \"-5\" (from TETHER_RETENTION_TTL) is not a number from 1 to 31536000"),
        (["--config", "/nonexistent/tether.json"], [:], "config file /nonexistent/tether.json could not be read"),
    ])
    func badConfigurationExitsWithStatusTwoAndOneClearLine(arguments: [String], environment: [String: String], message: String) async throws {
        let listen = arguments.contains("--listen") ? [] : ["--listen", "127.0.0.1:0"]
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve"] + listen + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }
        )
        #expect(result.status == 2)
        #expect(result.output.contains(message), "output was: \(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "expected one line, got: \(result.output)")
    }

    @Test func configFileIsReadBelowEnvironmentAndFlags() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tether-\(UUID().uuidString).json")
        try Data(#"{"retention": {"max-events": 3}, "lag-cap": 2}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        // The file caps retention at 3 events; the environment overrides lag-cap but not that.
        let relay = try await RelayProcess.start(arguments: ["--config", file.path], environment: ["TETHER_LAG_CAP": "50"])
        for n in 0..<5 {
            _ = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"t","data":\#(n)}"#.utf8), headers: Self.json)
        }
        let read = try await relay.http("GET", "/v1/events?after=0")
        let object = try #require(try HTTP.json(read.body) as? [String: Any])
        #expect(object["oldest"] as? Int == 3)
        #expect((object["events"] as? [Any])?.count == 3)
        await relay.terminate()
    }

    @Test func pluginsListsEveryKindInAlignedColumns() async throws {
        let result = try await Command.run(RelayProcess.binary.path, ["plugins"])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n").map(String.init)
        let rows = ["store sqlite", "store memory", "store postgres", "transport websocket", "transport sse", "transport socketio", "exporter prometheus", "exporter json"]
        for row in rows {
            let parts = row.split(separator: " ")
            #expect(lines.contains { $0.split(separator: " ", omittingEmptySubsequences: true).prefix(2).map(String.init) == parts.map(String.init) }, "missing \(row) in: \(result.output)")
        }
        // Every summary starts in the same column as the header's SUMMARY.
        let column = try #require(lines.first?.range(of: "SUMMARY")?.lowerBound.utf16Offset(in: lines[0]))
        for line in lines.dropFirst() {
            let index = line.index(line.startIndex, offsetBy: column)
            #expect(line[line.index(before: index)] == " " && line[index] != " ", "misaligned: \(line)")
        }
    }

    @Test func pluginsListsAsJSONWithTheirKeys() async throws {
        let result = try await Command.run(RelayProcess.binary.path, ["plugins", "--json"])
        #expect(result.status == 0)
        let plugins = try #require(try HTTP.json(Data(result.output.utf8)) as? [[String: Any]])
        #expect(plugins.count == 8)
        let sqlite = try #require(plugins.first { $0["name"] as? String == "sqlite" })
        #expect(sqlite["kind"] as? String == "store")
        #expect((sqlite["keys"] as? [String])?.contains("store.sqlite.synchronous") == true)
    }

    private func accepted(_ body: Data) throws -> [Int] {
        try #require((try HTTP.json(body) as? [String: Any])?["accepted"] as? [Int])
    }
}

struct BadRequest: Sendable, CustomTestStringConvertible {
    var name: String
    var body: String
    var status: Int
    var code: String
    var invalidUTF8 = false
    var contentType = "application/json"

    init(_ name: String, _ body: String, status: Int, code: String, invalidUTF8: Bool = false, contentType: String = "application/json") {
        self.name = name
        self.body = body
        self.status = status
        self.code = code
        self.invalidUTF8 = invalidUTF8
        self.contentType = contentType
    }

    var testDescription: String { name }
}
