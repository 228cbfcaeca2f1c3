import Foundation
import Testing
import TetherTesting

/// The hostile-input table (issue 10): malformed, truncated, oversized, deeply nested, wrongly
/// typed and invalid UTF-8 input on every transport, plus protocol abuse (a `last_sequence` from
/// the future, another epoch, a second hello, an ack beyond head, a wrong secret), `Host` names a
/// rebound DNS name would carry (issue 15), slowloris heads and bodies, and a bounded flood. For each case: the documented error, `/healthz` still answers, and a bystander
/// WebSocket subscriber that never misbehaves receives every accepted event, in order, with no gap.
/// The per-transport tables (`WebSocketBadInputTests`, `EngineBadInputTests`, `HTTPSurfaceTests`)
/// cover their close codes and session effects in more depth.
@Suite("Hostile input, all transports", .serialized)
struct HostileInputSuiteTests {
    static let environment = [
        "TETHER_LIMITS_MAX_EVENT_BYTES": "1024",
        "TETHER_LIMITS_MAX_BODY_BYTES": "65536",
        "TETHER_LIMITS_MAX_BATCH_EVENTS": "50",
        "TETHER_LIMITS_MAX_DEPTH": "32",
        "TETHER_LIMITS_MAX_TOPICS_PER_CLIENT": "10",
        "TETHER_LIMITS_IDLE_TIMEOUT": "1",
        "TETHER_LIMITS_HANDSHAKE_TIMEOUT": "1",
        "TETHER_LIMITS_BODY_TIMEOUT": "1",
        "TETHER_TRANSPORT_WEBSOCKET_MAX_FRAME_BYTES": "4096",
        "TETHER_STALE_TIMEOUT": "600",
    ]

    enum Input: Sendable {
        /// An HTTP request sent byte for byte (`Content-Length` added when there is a body).
        case http(_ method: String, _ path: String, headers: [String] = [], body: [UInt8]? = nil)
        /// Raw bytes on a fresh TCP connection.
        case raw([UInt8])
        /// A WebSocket on `/v1/ws`: the text frames sent (after `hello`, when given), then raw bytes.
        case ws(hello: String?, frames: [String], raw: [UInt8] = [])
    }

    enum Expectation: Sendable {
        /// This HTTP status and, when given, this JSON error code.
        case status(Int, code: String?)
        /// One of these statuses, or the relay closes the connection.
        case statusOrClosed([Int])
        /// A WebSocket frame containing this text (an error code, or a frame type).
        case frame(String)
        /// The relay closes the WebSocket (an error frame may come first).
        case wsClosed
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var input: Input
        var expect: Expectation
        var testDescription: String { name }
        init(_ name: String, _ input: Input, _ expect: Expectation) {
            self.name = name
            self.input = input
            self.expect = expect
        }
    }

    static func post(_ body: String, type: String = "application/json") -> Input {
        .http("POST", "/v1/events", headers: ["Content-Type: \(type)"], body: Array(body.utf8))
    }
    static func post(bytes: [UInt8]) -> Input {
        .http("POST", "/v1/events", headers: ["Content-Type: application/json"], body: bytes)
    }
    /// A request whose `Host` (and `Origin`, as a rebound page sends both) is `host`, raw so
    /// that nothing rewrites the header.
    static func rebound(_ method: String, _ path: String, host: String = "rebind.attacker.example:8765", body: String? = nil) -> Input {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nOrigin: http://\(host)\r\nConnection: close\r\n"
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return .raw(Array((request + "\r\n" + (body ?? "")).utf8))
    }
    static func upgrade(_ path: String, host: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nOrigin: http://\(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    }
    static let invalidUTF8 = Array(#"{"topic":"a","data":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
    static let invalidUTF8Topic = Array(#"{"topic":""#.utf8) + [0xC0, 0x80] + Array(#"","data":1}"#.utf8)
    static let deepArray = #"{"topic":"a","data":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
    static let deepObject = String(repeating: #"{"a":"#, count: 40) + "1" + String(repeating: "}", count: 40)
    static let manyEvents = "[" + Array(repeating: #"{"topic":"a","data":1}"#, count: 51).joined(separator: ",") + "]"

    static let cases: [Case] = [
        // HTTP publish
        Case("HTTP malformed JSON", post(#"{"topic": "a", "data": }"#), .status(400, code: "malformed")),
        Case("HTTP truncated body", post(#"{"topic":"a","da"#), .status(400, code: "malformed")),
        Case("HTTP empty body", post(""), .status(400, code: "malformed")),
        Case("HTTP invalid UTF-8 in data", post(bytes: invalidUTF8), .status(400, code: "malformed")),
        Case("HTTP overlong UTF-8 in topic", post(bytes: invalidUTF8Topic), .status(400, code: "malformed")),
        Case("HTTP deep nesting in data (10000)", post(deepArray), .status(400, code: "malformed")),
        Case("HTTP deep nesting of objects (40 > 32)", post(deepObject), .status(400, code: "malformed")),
        Case("HTTP topic of the wrong type", post(#"{"topic":17,"data":1}"#), .status(400, code: "invalid_event")),
        Case("HTTP producer id of the wrong type", post(#"{"topic":"a","data":1,"id":["x"]}"#), .status(400, code: "invalid_event")),
        Case("HTTP a string, not an event", post(#""hello""#), .status(400, code: "invalid_event")),
        Case("HTTP array of numbers", post("[1,2,3]"), .status(400, code: "invalid_event")),
        Case("HTTP empty array", post("[]"), .status(400, code: "invalid_event")),
        Case("HTTP control character in topic", post(#"{"topic":"a\u0007b","data":1}"#), .status(400, code: "invalid_event")),
        Case("HTTP control character in producer id", post(#"{"topic":"a","data":1,"id":"p\u001bq"}"#), .status(400, code: "invalid_event")),
        Case("HTTP line separator in topic", post(#"{"topic":"a\u2028b","data":1}"#), .status(400, code: "invalid_event")),
        Case("HTTP lone high surrogate in producer id", post(#"{"topic":"a","data":1,"id":"\ud800"}"#), .status(400, code: "malformed")),
        Case("HTTP lone low surrogate in data", post(#"{"topic":"a","data":"x\udfffy"}"#), .status(400, code: "malformed")),
        Case("HTTP high surrogate followed by a non-surrogate escape", post(#"{"topic":"a","data":"\ud800\u0041"}"#), .status(400, code: "malformed")),
        Case("HTTP two lone surrogates in one batch", post(#"[{"topic":"a","data":1,"id":"\ud800"},{"topic":"a","data":2,"id":"\udfff"}]"#), .status(400, code: "malformed")),
        Case("HTTP a surrogate pair is valid (accepted)", post(#"{"topic":"pair","data":"\ud83d\ude00","id":"\ud83d\ude00"}"#), .status(202, code: nil)),
        Case("HTTP topic over 256 bytes", post(#"{"topic":""# + String(repeating: "t", count: 300) + #"","data":1}"#), .status(400, code: "invalid_event")),
        Case("HTTP event over max-event-bytes", post(#"{"topic":"a","data":""# + String(repeating: "x", count: 2000) + #""}"#), .status(413, code: "too_large")),
        Case("HTTP batch over max-batch-events", post(manyEvents), .status(413, code: "too_large")),
        Case("HTTP body over max-body-bytes", post(#"{"topic":"a","data":""# + String(repeating: "x", count: 70_000) + #""}"#), .statusOrClosed([413])),
        Case("HTTP wrong content type", post(#"{"topic":"a","data":1}"#, type: "text/plain"), .status(415, code: "unsupported_media_type")),
        Case("HTTP NDJSON with a bad line", post("{\"topic\":\"a\",\"data\":1}\n{nope\n", type: "application/x-ndjson"), .status(400, code: "malformed")),
        Case("HTTP huge number is valid JSON (accepted)", post(#"{"topic":"big","data":1e999999}"#), .status(202, code: nil)),
        // HTTP poll and routing
        Case("HTTP poll after=-1", .http("GET", "/v1/events?after=-1"), .status(400, code: "malformed")),
        Case("HTTP poll after=abc", .http("GET", "/v1/events?after=abc"), .status(400, code: "malformed")),
        Case("HTTP poll after overflows UInt64", .http("GET", "/v1/events?after=18446744073709551616"), .status(400, code: "malformed")),
        Case("HTTP poll after=2^63 (past the largest sequence)", .http("GET", "/v1/events?after=9223372036854775808"), .status(400, code: "malformed")),
        Case("HTTP poll after=2^64-1", .http("GET", "/v1/events?after=18446744073709551615"), .status(400, code: "malformed")),
        Case("HTTP poll after=2^63-1 answers with nothing", .http("GET", "/v1/events?after=9223372036854775807"), .status(200, code: nil)),
        Case("HTTP poll limit over 10000", .http("GET", "/v1/events?limit=99999999"), .status(400, code: "malformed")),
        Case("HTTP unknown route", .http("GET", "/v1/nothing"), .status(404, code: "not_found")),
        Case("HTTP garbage request line", .raw(Array("HELLO THERE\r\n\r\n".utf8)), .statusOrClosed([400])),
        Case("HTTP binary garbage", .raw([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0, count: 64)), .statusOrClosed([400])),
        Case("HTTP header over 100 KB", .raw(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n".utf8)), .statusOrClosed([400, 431])),
        Case("HTTP truncated request then close", .raw(Array("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"topic\"".utf8)), .statusOrClosed([400, 408])),
        // Host (DNS rebinding: a page whose name now points at the relay sends its own name in
        // Host and Origin, so only Host can tell), on every route and upgrade, and its neighbours.
        Case("Host rebinding name on publish", rebound("POST", "/v1/events", body: #"{"topic":"rebind","data":1}"#), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on poll", rebound("GET", "/v1/events?after=0"), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on stats", rebound("GET", "/v1/stats"), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on the dashboard", rebound("GET", "/"), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on SSE", rebound("GET", "/v1/stream"), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on Socket.IO polling", rebound("GET", "/socket.io/?EIO=4&transport=polling"), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name on the WebSocket upgrade", .raw(Array(upgrade("/v1/ws", host: "rebind.attacker.example:8765").utf8)), .status(400, code: nil)),
        Case("Host rebinding name on the Socket.IO upgrade", .raw(Array(upgrade("/socket.io/?EIO=4&transport=websocket", host: "rebind.attacker.example:8765").utf8)), .status(400, code: nil)),
        Case("Host rebinding name with a trailing dot", rebound("GET", "/v1/stats", host: "rebind.attacker.example."), .status(421, code: "host_not_allowed")),
        Case("Host rebinding name in upper case, no port", rebound("GET", "/v1/stats", host: "REBIND.ATTACKER.EXAMPLE"), .status(421, code: "host_not_allowed")),
        Case("Host 127.0.0.1.attacker", rebound("GET", "/v1/stats", host: "127.0.0.1.attacker"), .status(421, code: "host_not_allowed")),
        Case("Host 127.attacker.invalid", rebound("GET", "/v1/stats", host: "127.attacker.invalid:8765"), .status(421, code: "host_not_allowed")),
        Case("Host another address", rebound("GET", "/v1/stats", host: "[2001:db8::1]:8765"), .status(421, code: "host_not_allowed")),
        Case("Host IPv6 without brackets", rebound("GET", "/v1/stats", host: "::1"), .status(400, code: "malformed")),
        Case("Host with a path", rebound("GET", "/v1/stats", host: "localhost/x"), .status(400, code: "malformed")),
        Case("Host missing", .raw(Array("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".utf8)), .status(400, code: "malformed")),
        Case("Host twice", .raw(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: rebind.attacker.example\r\nConnection: close\r\n\r\n".utf8)), .status(400, code: "malformed")),
        Case("Host LOCALHOST. is localhost", rebound("GET", "/v1/stats", host: "LOCALHOST.:8765"), .status(200, code: nil)),
        Case("Host localhost without a port", rebound("GET", "/v1/stats", host: "localhost"), .status(200, code: nil)),
        Case("Host [::1]", rebound("GET", "/v1/stats", host: "[::1]:8765"), .status(200, code: nil)),
        Case("Host [0:0:0:0:0:0:0:1]", rebound("GET", "/v1/stats", host: "[0:0:0:0:0:0:0:1]"), .status(200, code: nil)),
        Case("Host IPv4-mapped loopback", rebound("GET", "/v1/stats", host: "[::ffff:127.0.0.1]"), .status(200, code: nil)),
        Case("Host another loopback address", rebound("GET", "/v1/stats", host: "127.9.8.7:1"), .status(200, code: nil)),
        // WebSocket
        Case("WS not JSON first", .ws(hello: nil, frames: ["hello?"]), .frame(#""code":"malformed""#)),
        Case("WS first frame not hello", .ws(hello: nil, frames: [#"{"type":"ack","seq":1}"#]), .frame(#""code":"hello_required""#)),
        Case("WS hello field of the wrong type", .ws(hello: nil, frames: [#"{"type":"hello","last_sequence":"ten"}"#]), .frame(#""code":"invalid_hello""#)),
        Case("WS hello deeply nested", .ws(hello: nil, frames: [#"{"type":"hello","x":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"]), .frame(#""code":"malformed""#)),
        Case("WS second hello", .ws(hello: #"{"type":"hello"}"#, frames: [#"{"type":"hello"}"#]), .frame(#""code":"duplicate_hello""#)),
        Case("WS last_sequence from the future", .ws(hello: nil, frames: [#"{"type":"hello","epoch":"EPOCH","last_sequence":1000000}"#]), .frame(#""code":"future_sequence""#)),
        Case("WS another epoch is reset, not refused", .ws(hello: nil, frames: [#"{"type":"hello","epoch":"0000000000000000","last_sequence":3}"#]), .frame(#""type":"welcome""#)),
        Case("WS ack beyond head", .ws(hello: #"{"type":"hello"}"#, frames: [#"{"type":"ack","seq":1000000}"#]), .frame(#""code":"ack_beyond_delivered""#)),
        Case("WS wrong resume secret", .ws(hello: nil, frames: [#"{"type":"hello","client_id":"BYSTANDER","resume_token":"not-the-secret"}"#]), .frame(#""code":"resume_refused""#)),
        Case("WS client id with a newline", .ws(hello: nil, frames: [#"{"type":"hello","client_id":"a\nINJECTED"}"#]), .frame(#""code":"invalid_hello""#)),
        Case("WS last_sequence 2^63", .ws(hello: nil, frames: [#"{"type":"hello","epoch":"EPOCH","last_sequence":9223372036854775808}"#]), .frame(#""code":"invalid_hello""#)),
        Case("WS unknown frame type", .ws(hello: #"{"type":"hello"}"#, frames: [#"{"type":"subscribe"}"#]), .frame(#""code":"unknown_type""#)),
        Case("WS too many topics", .ws(hello: nil, frames: [#"{"type":"hello","topics":["1","2","3","4","5","6","7","8","9","10","11"]}"#]), .frame(#""code":"too_many_topics""#)),
        Case("WS publish with topic of the wrong type", .ws(hello: #"{"type":"hello"}"#, frames: [#"{"type":"publish","id":"p","topic":5,"data":1}"#]), .frame(#""code":"invalid_event""#)),
        Case("WS frame over max-frame-bytes", .ws(hello: #"{"type":"hello"}"#, frames: [String(repeating: "x", count: 10_000)]), .wsClosed),
        Case("WS invalid UTF-8 text frame", .ws(hello: #"{"type":"hello"}"#, frames: [], raw: RawTCPConnection.webSocketFrame([0x7B, 0xFF, 0xFE, 0x7D])), .wsClosed),
        Case("WS truncated frame then close", .ws(hello: #"{"type":"hello"}"#, frames: [], raw: Array(RawTCPConnection.webSocketFrame(Array(repeating: 0x61, count: 200)).prefix(40))), .statusOrClosed([])),
        // WebSocket framing (RFC 6455 §5), each as the first frame: the exact close code.
        Case("WS unmasked frame", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame(Array(#"{"type":"hello"}"#.utf8), masked: false)), .frame(#""close":1002"#)),
        Case("WS continuation with no message started", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame(Array(#"{"type":"hello"}"#.utf8), opcode: 0)), .frame(#""close":1002"#)),
        Case("WS text frame inside a fragmented message", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame(Array(#"{"type":"#.utf8), fin: false) + RawTCPConnection.webSocketFrame(Array(#""hello"}"#.utf8))), .frame(#""close":1002"#)),
        Case("WS reserved bit without an extension", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame(Array(#"{"type":"hello"}"#.utf8), reservedBits: 4)), .frame(#""close":1002"#)),
        Case("WS reserved opcode", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame([], opcode: 0xB)), .frame(#""close":1002"#)),
        Case("WS text not UTF-8 (exact close code)", .ws(hello: nil, frames: [], raw: RawTCPConnection.webSocketFrame([0x7B, 0xFF, 0x7D])), .frame(#""close":1007"#)),
        // SSE
        Case("SSE Last-Event-ID not a sequence", .http("GET", "/v1/stream", headers: ["Last-Event-ID: abc"]), .status(400, code: "malformed")),
        Case("SSE Last-Event-ID from the future", .http("GET", "/v1/stream", headers: ["Last-Event-ID: EPOCH:1000000"]), .status(400, code: "future_sequence")),
        Case("SSE negative history", .http("GET", "/v1/stream?history=-5"), .status(400, code: "malformed")),
        Case("SSE wrong resume secret", .http("GET", "/v1/stream?client_id=BYSTANDER&resume_token=wrong"), .status(403, code: "resume_refused")),
        Case("SSE too many topics", .http("GET", "/v1/stream?topics=1,2,3,4,5,6,7,8,9,10,11"), .status(400, code: "too_many_topics")),
        Case("SSE client id with a newline (log forging)", .http("GET", "/v1/stream?client_id=a%0AINJECTED%20level%3Dcritical"), .status(400, code: "invalid_name")),
        Case("SSE empty client id", .http("GET", "/v1/stream?client_id="), .status(400, code: "invalid_name")),
        Case("SSE client id over 256 bytes", .http("GET", "/v1/stream?client_id=" + String(repeating: "i", count: 300)), .status(400, code: "invalid_name")),
        Case("SSE topic over 256 bytes", .http("GET", "/v1/stream?topics=" + String(repeating: "t", count: 300)), .status(400, code: "invalid_name")),
        Case("SSE Last-Event-ID past 2^63", .http("GET", "/v1/stream", headers: ["Last-Event-ID: EPOCH:18446744073709551615"]), .status(400, code: "malformed")),
        // Socket.IO (Engine.IO errors are its own JSON shape: {"code": n, "message": ...})
        Case("Socket.IO Engine.IO v3", .http("GET", "/socket.io/?EIO=3&transport=polling"), .status(400, code: nil)),
        Case("Socket.IO unknown transport", .http("GET", "/socket.io/?EIO=4&transport=smoke"), .status(400, code: nil)),
        Case("Socket.IO unknown session", .http("POST", "/socket.io/?EIO=4&transport=polling&sid=nope", body: Array("40".utf8)), .status(400, code: nil)),
        Case("Socket.IO missing EIO", .http("GET", "/socket.io/?transport=polling"), .status(400, code: nil)),
    ]

    @Test func everyHostileInputGetsItsErrorAndHarmsNoOne() async throws {
        #expect(Self.cases.count >= 40)
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: Self.environment)
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        let epoch = try await Self.epoch(relay)
        let bystander = try await Bystander(port: relay.port)
        var accepted: [Int] = []

        for hostile in Self.cases {
            let input = Self.substitute(hostile.input, epoch: epoch, bystander: bystander.clientID)
            let outcome = try await Self.run(input, port: relay.port)
            Self.check(outcome, hostile)
            if case .status(202, _) = hostile.expect, let seqs = Self.acceptedSeqs(outcome.text) { accepted += seqs }
            let health = try await relay.http("GET", "/healthz")
            #expect(health.status == 200, "\(hostile.name): /healthz answered \(health.status)")
            let marker = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"marker","data":"after \#(hostile.name)"}"#.utf8), headers: ["Content-Type": "application/json"])
            #expect(marker.status == 202, "\(hostile.name): the next good publish got \(marker.status)")
            accepted += Self.acceptedSeqs(String(decoding: marker.body, as: UTF8.self)) ?? []
        }

        // A bounded flood: 200 bad requests pipelined on one connection, all answered, none stored.
        let flood = try RawTCPConnection(port: relay.port)
        let bad = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{x}"
        try await flood.send(String(repeating: bad, count: 200))
        let answers = await flood.read(timeout: 20) { bytes in
            String(decoding: bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 400").count > 200
        }
        #expect(String(decoding: answers.bytes, as: UTF8.self).components(separatedBy: "HTTP/1.1 400").count == 201)
        flood.close()

        // A slowloris: request heads trickled a byte at a time, while other clients are served.
        // A new connection's first head must be complete within the handshake timeout (1 s
        // here); on a kept-alive connection the idle timeout (1 s here) cuts a trickled head off.
        let firstHead = try RawTCPConnection(port: relay.port)
        var firstClosed = false
        for byte in Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "z"), count: 200) {
            do { try await firstHead.send([byte]) } catch { firstClosed = true; break }
            let (_, closed) = await firstHead.read(timeout: 0.05)
            if closed { firstClosed = true; break }
            #expect(try await relay.http("GET", "/healthz").status == 200)
        }
        #expect(firstClosed, "the relay let a new connection trickle its first request head for 200+ round trips")
        firstHead.close()
        let slow = try RawTCPConnection(port: relay.port)
        try await slow.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await slow.readHTTPResponse().status == 200)
        var closedEarly = false
        for byte in Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "z"), count: 200) {
            do { try await slow.send([byte]) } catch { closedEarly = true; break }
            let (_, closed) = await slow.read(timeout: 0.05)
            if closed { closedEarly = true; break }
            #expect(try await relay.http("GET", "/healthz").status == 200)
        }
        #expect(closedEarly, "the relay let a request head trickle for 200+ round trips on a kept-alive connection")
        slow.close()
        // Empty lines before the request line are allowed (RFC 9112) but are not a head: sent
        // first, they must not stop the handshake deadline.
        let blankFirst = try RawTCPConnection(port: relay.port)
        try await blankFirst.send("\r\n\r\n\r\n")
        var blankFirstClosed = false
        for byte in Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "z"), count: 200) {
            do { try await blankFirst.send([byte]) } catch { blankFirstClosed = true; break }
            let (_, closed) = await blankFirst.read(timeout: 0.05)
            if closed { blankFirstClosed = true; break }
            #expect(try await relay.http("GET", "/healthz").status == 200)
        }
        #expect(blankFirstClosed, "CRLFs before the request line let a trickled head outlive the handshake deadline")
        blankFirst.close()
        // A body trickled a byte at a time: every byte is activity for the idle timer, but the
        // body deadline (1 s here) counts from the head: 408 body_timeout, then closed.
        let slowBody = try RawTCPConnection(port: relay.port)
        try await slowBody.send("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        var slowBodyAnswer: [UInt8] = []
        var slowBodyClosed = false
        for _ in 0..<400 {
            do { try await slowBody.send(" ") } catch { slowBodyClosed = true; break }
            let (bytes, closed) = await slowBody.read(timeout: 0.05)
            slowBodyAnswer += bytes
            if closed { slowBodyClosed = true; break }
        }
        let slowBodyText = String(decoding: slowBodyAnswer, as: UTF8.self)
        #expect(slowBodyClosed, "the relay held a body trickled for 400 round trips")
        #expect(slowBodyText.hasPrefix("HTTP/1.1 408") && slowBodyText.contains(#""code":"body_timeout""#), "\(slowBodyText.prefix(300))")
        slowBody.close()
        #expect(try await relay.http("GET", "/healthz").status == 200)

        // Nothing accepted is lost: the log and the bystander both have every accepted event, in order.
        let log = try await relay.http("GET", "/v1/events?after=0&limit=10000")
        let stored = Self.seqs(String(decoding: log.body, as: UTF8.self))
        #expect(stored == accepted, "stored \(stored) accepted \(accepted)")
        let seen = await bystander.events(upTo: accepted.last ?? 0)
        #expect(seen == accepted, "the bystander saw \(seen)")
        bystander.connection.close()
        // No input forged a log line (a client id or producer id carrying a newline).
        let forged = relay.log.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("INJECTED") }
        #expect(forged.isEmpty, "log lines forged from input: \(forged)")
        let status = await relay.terminate()
        #expect(status == 0, "relay log:\n\(relay.log.suffix(3000))")
    }

    // MARK: Running a case

    struct Outcome {
        var status: Int?
        var text: String
        var closed: Bool
    }

    static func run(_ input: Input, port: Int) async throws -> Outcome {
        let connection = try RawTCPConnection(port: port)
        defer { connection.close() }
        switch input {
        case .http(let method, let path, let headers, let body):
            var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            for header in headers { request += header + "\r\n" }
            if let body { request += "Content-Length: \(body.count)\r\n" }
            request += "\r\n"
            do { try await connection.send(Array(request.utf8) + (body ?? [])) } catch {}
            let response = await connection.readHTTPResponse(timeout: path.hasPrefix("/v1/stream") ? 3 : 10)
            return Outcome(status: response.status == 0 ? nil : response.status, text: response.head + "\r\n\r\n" + response.body, closed: response.closed)
        case .raw(let bytes):
            do { try await connection.send(bytes) } catch {}
            let response = await connection.readHTTPResponse(timeout: 5)
            return Outcome(status: response.status == 0 ? nil : response.status, text: response.head + response.body, closed: response.closed || response.status == 0)
        case .ws(let hello, let frames, let raw):
            try await connection.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port))
            let upgrade = await connection.read(timeout: 10) { RawTCPConnection.headEnd($0) != nil }
            guard let end = RawTCPConnection.headEnd(upgrade.bytes) else { return Outcome(status: nil, text: "no upgrade", closed: true) }
            var received = Array(upgrade.bytes[(end + 4)...])
            if let hello {
                try await connection.send(RawTCPConnection.webSocketFrame(Array(hello.utf8)))
                let before = received
                let welcome = await connection.read(timeout: 10) { bytes in
                    RawTCPConnection.serverTextFrames(before + bytes).contains { $0.contains(#""type":"welcome""#) }
                }
                received += welcome.bytes
            }
            for frame in frames {
                do { try await connection.send(RawTCPConnection.webSocketFrame(Array(frame.utf8))) } catch {}
            }
            if !raw.isEmpty {
                do { try await connection.send(raw) } catch {}
                if frames.isEmpty, case .some = hello, raw.count < 60 { connection.close(); return Outcome(status: nil, text: "", closed: true) }
            }
            let sofar = received
            let rest = await connection.read(timeout: 5) { bytes in
                RawTCPConnection.serverTextFrames(sofar + bytes).contains { $0.contains(#""type":"error""#) || $0.contains(#""type":"welcome""#) && hello == nil }
            }
            received += rest.bytes
            var closed = rest.closed
            if !closed { closed = await connection.read(timeout: 2).closed }
            return Outcome(status: 101, text: RawTCPConnection.serverTextFrames(received).joined(separator: "\n"), closed: closed)
        }
    }

    static func check(_ outcome: Outcome, _ hostile: Case) {
        switch hostile.expect {
        case .status(let status, let code):
            #expect(outcome.status == status, "\(hostile.name): got \(outcome.status.map(String.init) ?? "no response"): \(outcome.text.prefix(300))")
            if let code {
                #expect(outcome.text.contains(#""code":"\#(code)""#), "\(hostile.name): no error code \(code) in \(outcome.text.prefix(300))")
            }
        case .statusOrClosed(let statuses):
            #expect(outcome.status.map { statuses.contains($0) } ?? outcome.closed, "\(hostile.name): got \(outcome.status.map(String.init) ?? "no response"), closed \(outcome.closed): \(outcome.text.prefix(300))")
        case .frame(let text):
            #expect(outcome.text.contains(text), "\(hostile.name): no frame with \(text) in \(outcome.text.prefix(300))")
        case .wsClosed:
            #expect(outcome.closed, "\(hostile.name): the relay kept the socket open; frames: \(outcome.text.prefix(300))")
        }
    }

    static func substitute(_ input: Input, epoch: String, bystander: String) -> Input {
        func fix(_ text: String) -> String { text.replacingOccurrences(of: "EPOCH", with: epoch).replacingOccurrences(of: "BYSTANDER", with: bystander) }
        switch input {
        case .http(let method, let path, let headers, let body): return .http(method, fix(path), headers: headers.map(fix), body: body)
        case .raw: return input
        case .ws(let hello, let frames, let raw): return .ws(hello: hello.map(fix), frames: frames.map(fix), raw: raw)
        }
    }

    static func epoch(_ relay: RelayProcess) async throws -> String {
        let ready = try await relay.http("GET", "/readyz")
        let object = try #require(try HTTP.json(ready.body) as? [String: Any])
        return try #require(object["epoch"] as? String)
    }

    static func acceptedSeqs(_ text: String) -> [Int]? {
        guard let range = text.range(of: #""accepted":["#) else { return nil }
        let list = text[range.upperBound...].prefix { $0 != "]" }
        return list.split(separator: ",").compactMap { Int($0) }
    }

    static func seqs(_ text: String) -> [Int] {
        text.components(separatedBy: #""seq":"#).dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }
}

/// A well-behaved WebSocket subscriber that stays connected through the whole table.
final class Bystander: Sendable {
    let connection: RawTCPConnection
    let clientID: String

    /// - Parameter extraHeaders: request header lines for the upgrade (e.g. a bearer token).
    init(port: Int, extraHeaders: String = "") async throws {
        connection = try RawTCPConnection(port: port)
        try await connection.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port, extraHeaders: extraHeaders))
        _ = await connection.read(timeout: 10) { RawTCPConnection.headEnd($0) != nil }
        try await connection.send(RawTCPConnection.webSocketFrame(Array(#"{"type":"hello"}"#.utf8)))
        let welcome = await connection.read(timeout: 10) { String(decoding: $0, as: UTF8.self).contains("client_id") }
        let text = String(decoding: welcome.bytes, as: UTF8.self)
        let start = try #require(text.range(of: #""client_id":""#))
        clientID = String(text[start.upperBound...].prefix { $0 != "\"" })
    }

    /// The sequences of the events received, once the last one is `last` (or after 20 s).
    func events(upTo last: Int) async -> [Int] {
        let received = await connection.read(timeout: 20) { bytes in
            HostileInputSuiteTests.seqs(Self.eventText(bytes)).last ?? 0 >= last
        }
        return HostileInputSuiteTests.seqs(Self.eventText(received.bytes))
    }

    static func eventText(_ bytes: [UInt8]) -> String {
        RawTCPConnection.serverTextFrames(bytes).filter { $0.contains(#""type":"event""#) }.joined(separator: "\n")
    }
}
