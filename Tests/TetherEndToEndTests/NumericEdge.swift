import Foundation
import Testing
import TetherTesting

/// One number a client might send, with what each kind of field must make of it (issue 15).
///
/// Two rules meet the wire (`ClientSequence`, docs/SECURITY.md "Numbers from clients"): a field
/// that is text (a query parameter, a header, a native WebSocket member read as its JSON text)
/// takes decimal digits only, 0 to 2^63 − 1; a Socket.IO field also takes a numeric string and a
/// float with no fraction up to 2^53, as browsers hold numbers. `nil` means refused.
struct NumericEdge: Sendable, CustomTestStringConvertible {
    var name: String
    /// As sent in a query parameter (percent-encoded) or a header.
    var text: String
    /// As sent as a JSON member value in a frame or packet.
    var json: String
    /// Whether `json` is valid JSON at all (if not, the whole frame or packet is malformed).
    var jsonIsValid: Bool
    /// What a digits-only field reads from `text`.
    var digits: UInt64?
    /// What a Socket.IO field reads from `json`.
    var loose: UInt64?

    var testDescription: String { name }

    /// What the native WebSocket protocol reads from `json`: digits only, so a string is no number.
    var frame: UInt64? { json == text ? digits : nil }

    init(_ name: String, _ text: String, json: String? = nil, jsonIsValid: Bool = true, digits: UInt64?, loose: UInt64?) {
        self.name = name
        self.text = text
        self.json = json ?? text
        self.jsonIsValid = jsonIsValid
        self.digits = digits
        self.loose = loose
    }

    /// `text` percent-encoded for a query string (everything but letters and digits).
    var queryValue: String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }

    static let max = UInt64(Int64.max)

    static let table: [NumericEdge] = [
        NumericEdge("0", "0", digits: 0, loose: 0),
        NumericEdge("1", "1", digits: 1, loose: 1),
        NumericEdge("2^53 - 1", "9007199254740991", digits: 9_007_199_254_740_991, loose: 9_007_199_254_740_991),
        NumericEdge("2^53", "9007199254740992", digits: 9_007_199_254_740_992, loose: 9_007_199_254_740_992),
        NumericEdge("2^53 + 1", "9007199254740993", digits: 9_007_199_254_740_993, loose: 9_007_199_254_740_993),
        NumericEdge("2^63 - 1", "9223372036854775807", digits: max, loose: max),
        NumericEdge("2^63", "9223372036854775808", digits: nil, loose: nil),
        NumericEdge("2^64 - 1", "18446744073709551615", digits: nil, loose: nil),
        NumericEdge("2^64", "18446744073709551616", digits: nil, loose: nil),
        NumericEdge("10^30", "1" + String(repeating: "0", count: 30), digits: nil, loose: nil),
        NumericEdge("-1", "-1", digits: nil, loose: nil),
        NumericEdge("-0", "-0", digits: nil, loose: nil),
        NumericEdge("1.5", "1.5", digits: nil, loose: nil),
        NumericEdge("2.0", "2.0", digits: nil, loose: 2),
        NumericEdge("1e3", "1e3", digits: nil, loose: 1000),
        NumericEdge("1E3", "1E3", digits: nil, loose: 1000),
        NumericEdge("1e+3", "1e+3", digits: nil, loose: 1000),
        NumericEdge("1e19", "1e19", digits: nil, loose: nil),
        NumericEdge("1e400", "1e400", digits: nil, loose: nil),
        NumericEdge("2^53 as a float", "9007199254740992.0", digits: nil, loose: 9_007_199_254_740_992),
        // A double cannot hold 2^53 + 1: the literal reads as its nearest double, 2^53.
        NumericEdge("2^53 + 1 as a float", "9007199254740993.0", digits: nil, loose: 9_007_199_254_740_992),
        NumericEdge("2^63 as a float", "9.223372036854775808e18", digits: nil, loose: nil),
        NumericEdge("string \"12\"", "\"12\"", digits: nil, loose: 12),
        NumericEdge("string \"1e3\"", "\"1e3\"", digits: nil, loose: 1000),
        NumericEdge("string \"+12\"", "\"+12\"", digits: nil, loose: 12),
        NumericEdge("string \"-1\"", "\"-1\"", digits: nil, loose: nil),
        NumericEdge("string \"2^63\"", "\"9223372036854775808\"", digits: nil, loose: nil),
        NumericEdge("empty", "", json: "\"\"", digits: nil, loose: nil),
        NumericEdge("leading zeros", "007", jsonIsValid: false, digits: 7, loose: nil),
        NumericEdge("20 digits, leading zeros", "00000000000000000001", jsonIsValid: false, digits: nil, loose: nil),
        NumericEdge("leading +", "+1", jsonIsValid: false, digits: nil, loose: nil),
        NumericEdge("leading space", " 1", json: "\" 1\"", digits: nil, loose: nil),
        NumericEdge("inner space", "1 2", json: "\"1 2\"", digits: nil, loose: nil),
        NumericEdge("hex", "0x10", jsonIsValid: false, digits: nil, loose: nil),
        NumericEdge("NaN", "NaN", jsonIsValid: false, digits: nil, loose: nil),
        NumericEdge("Infinity", "Infinity", jsonIsValid: false, digits: nil, loose: nil),
        NumericEdge("string \"Infinity\"", "\"Infinity\"", digits: nil, loose: nil),
    ]
}

/// A relay with a non-empty log and a well-behaved WebSocket subscriber watching it: after each
/// case, `/healthz` must answer and a good publish must be accepted; at the end the subscriber
/// must have received every accepted event, in order.
struct NumericEdgeRelay {
    let relay: RelayProcess
    let epoch: String
    let bystander: Bystander
    private(set) var accepted: [Int] = []

    /// The log's head: every event in it was published here.
    var head: UInt64 { UInt64(accepted.last ?? 0) }

    static func start() async throws -> NumericEdgeRelay {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_STALE_TIMEOUT": "600"])
        var harness = NumericEdgeRelay(relay: relay, epoch: try await HostileInputSuiteTests.epoch(relay), bystander: try await Bystander(port: relay.port))
        // A log that is not empty: the traps of issue 15 needed one.
        for index in 0..<5 { try await harness.publish("seed \(index)") }
        return harness
    }

    mutating func publish(_ data: String) async throws {
        let text = String(data.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "^" }.map(Character.init))
        let body = Data(#"{"topic":"marker","data":"\#(text)"}"#.utf8)
        let reply = try await relay.http("POST", "/v1/events", body: body, headers: ["Content-Type": "application/json"])
        #expect(reply.status == 202, "\(data): a good publish got \(reply.status)")
        accepted += HostileInputSuiteTests.acceptedSeqs(String(decoding: reply.body, as: UTF8.self)) ?? []
    }

    /// The relay survived `name`: it answers `/healthz` and accepts the next event.
    mutating func survived(_ name: String) async throws {
        #expect(relay.process.isRunning, "\(name): the relay exited; log:\n\(relay.log.suffix(2000))")
        guard relay.process.isRunning else { throw RelayProcessError("the relay died on \(name)") }
        let health = try await relay.http("GET", "/healthz")
        #expect(health.status == 200, "\(name): /healthz answered \(health.status)")
        try await publish("after \(name)")
    }

    /// The bystander got every accepted event, in order; the relay stops cleanly.
    func finish() async {
        let seen = await bystander.events(upTo: accepted.last ?? 0)
        #expect(seen == accepted, "the bystander saw \(seen.count) of \(accepted.count) events: \(seen)")
        bystander.connection.close()
        let status = await relay.terminate()
        #expect(status == 0, "relay log:\n\(relay.log.suffix(3000))")
    }

    /// One HTTP request sent byte for byte (`Connection: close`). For an SSE stream, reads until
    /// the welcome event is complete instead of waiting for an end.
    func request(_ path: String, headers: [String] = []) async throws -> (status: Int, text: String) {
        let connection = try RawTCPConnection(port: relay.port)
        defer { connection.close() }
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(relay.port)\r\nConnection: close\r\n"
        for header in headers { head += header + "\r\n" }
        try await connection.send(head + "\r\n")
        guard path.hasPrefix("/v1/stream") else {
            let response = await connection.readHTTPResponse()
            return (response.status, response.head + "\r\n\r\n" + response.body)
        }
        let (bytes, _) = await connection.read(timeout: 10) { bytes in
            guard let end = RawTCPConnection.headEnd(bytes) else { return false }
            let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
            if !head.hasPrefix("http/1.1 200") {
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                return length.map { bytes.count >= end + 4 + $0 } ?? false
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let welcome = text.range(of: "event: tether.welcome") else { return false }
            return text[welcome.upperBound...].contains("\n\n")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0, text)
    }
}
