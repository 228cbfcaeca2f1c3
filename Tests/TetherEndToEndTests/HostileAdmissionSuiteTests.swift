import Foundation
import Testing
import TetherTesting

/// Hostile admission on a relay with subscriber tokens (issue 15, items 4, 5 and 12): tokenless
/// Engine.IO handshakes, wrong tokens, CONNECTs without one, abandoned sessions and Socket.IO
/// binary packets announcing 999,999 attachments, before and after CONNECT, over polling and
/// WebSocket. For each case: its documented answer, `/healthz` still answers, the next good
/// publish is accepted, a token holder still gets in, and a bystander WebSocket subscriber
/// receives every accepted event, in order, with no gap. At the end both pools are empty but
/// for the bystander.
@Suite("Hostile admission", .serialized)
struct HostileAdmissionSuiteTests {
    static let token = "sub-secret-0123456789"
    static let environment = ["TETHER_AUTH_SUBSCRIBER_TOKENS": token, "TETHER_LIMITS_PENDING_TIMEOUT": "2"]
    static let pending = #"tether_connection_slots{pool="pending"}"#
    static let authenticated = #"tether_connection_slots{pool="authenticated"}"#
    static let bearer = ["Authorization": "Bearer \(token)"]
    static let announce = #"45999999-["x",{"_placeholder":true,"num":0}]"# + "\u{1e}b" + Data(repeating: 7, count: 30_000).base64EncodedString()

    struct Context: Sendable {
        var relay: RelayProcess
        var engine: EngineIOPolling
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var run: @Sendable (Context) async throws -> Void
        var testDescription: String { name }
        init(_ name: String, _ run: @escaping @Sendable (Context) async throws -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// A session that sent a refused packet gets CONNECT_ERROR with `code`, then is gone.
    static func expectRefusedAndClosed(_ engine: EngineIOPolling, _ sid: String, code: String, _ name: String) async throws {
        let (_, received) = try await engine.poll(sid, until: #""code":"\#(code)""#)
        #expect(received.contains("44{") && received.contains(#""code":"\#(code)""#), "\(name): \(received.prefix(300))")
        #expect(try await engine.poll(sid).status == 400, "\(name): the session outlived its refusal")
    }

    /// A Socket.IO session that CONNECTed (`40` answered with its `sid`).
    static func connected(_ engine: EngineIOPolling, headers: [String: String] = bearer, auth: String = "") async throws -> String {
        let sid = try #require(try await engine.handshake(headers: headers).sid)
        #expect(try await engine.post(sid, "40" + auth) == 200)
        let (_, received) = try await engine.poll(sid, until: "connection_established")
        #expect(received.contains(#"40{"sid":""#), "CONNECT was not accepted: \(received.prefix(300))")
        return sid
    }

    /// A raw Engine.IO WebSocket; returns the connection and the text frames of its first answer.
    static func webSocket(_ port: Int, headers: String = "", until done: @escaping ([String]) -> Bool) async throws -> (RawTCPConnection, [String], closed: Bool) {
        let connection = try RawTCPConnection(port: port)
        try await connection.send(RawTCPConnection.webSocketUpgrade("/socket.io/?EIO=4&transport=websocket", port: port, extraHeaders: headers))
        let (bytes, closed) = await connection.read(timeout: 10) { bytes in
            guard let end = RawTCPConnection.headEnd(bytes) else { return false }
            return done(RawTCPConnection.serverTextFrames(Array(bytes[(end + 4)...])))
        }
        let frames = RawTCPConnection.headEnd(bytes).map { RawTCPConnection.serverTextFrames(Array(bytes[($0 + 4)...])) } ?? []
        return (connection, frames, closed)
    }

    static let cases: [Case] = [
        Case("40 tokenless polling handshakes fill only their per-address pending share") { c in
            var opened = 0
            var refused: [Int: Int] = [:]
            for _ in 0..<40 {
                let handshake = try await c.engine.handshake()
                if handshake.sid != nil { opened += 1 } else { refused[handshake.status, default: 0] += 1 }
                if handshake.status == 429 { #expect(handshake.body.contains(#""code":"too_many_connections""#) && handshake.body.contains("limits.max-pending-connections-per-address")) }
            }
            #expect(opened == 8 && refused == [429: 32], "opened \(opened), refused \(refused)")
            #expect(try await c.relay.metric(authenticated) == 1, "only the bystander holds a main-pool slot")
        },
        Case("tokenless WebSocket handshakes past the pending share are told why") { c in
            var sockets: [RawTCPConnection] = []
            var busy = 0
            for _ in 0..<10 {
                let (socket, frames, _) = try await webSocket(c.relay.port) { $0.contains { $0.hasPrefix("44") } || $0.contains { $0.hasPrefix("0{\"sid\":\"") && !$0.hasPrefix("0{\"sid\":\"\"") } }
                sockets.append(socket)
                if frames.contains(where: { $0.contains(#""code":"too_many_connections""#) }) { busy += 1 }
            }
            #expect(busy >= 2, "the pending share of 8 was exceeded without a refusal")
            for socket in sockets { socket.close() }
        },
        Case("a token holder gets in while tokenless sessions wait") { c in
            let sid = try await connected(c.engine)
            #expect(try await c.engine.post(sid, "1") == 200)
        },
        Case("a wrong bearer token is refused at the handshake") { c in
            let handshake = try await c.engine.handshake(headers: ["Authorization": "Bearer not-the-token-at-all"])
            #expect(handshake.status == 403 && handshake.sid == nil && handshake.body.contains(#""code":"forbidden""#), "\(handshake)")
        },
        Case("an empty ?token= is refused at the handshake") { c in
            let handshake = try await c.engine.handshake(query: "&token=")
            #expect(handshake.status == 401 && handshake.body.contains("Authorization: Bearer"), "\(handshake)")
        },
        Case("pending sessions expire at the pending timeout") { c in
            let left = try await awaitMetric(c.relay, pending, 0)
            #expect(left == 0, "\(left.map { String($0) } ?? "no metric") pending slots left")
        },
        Case("CONNECT without a token closes the pending session") { c in
            let sid = try #require(try await c.engine.handshake().sid)
            #expect(try await c.engine.post(sid, "40") == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "unauthorized", "no token")
        },
        Case("CONNECT with a wrong token closes the pending session") { c in
            let sid = try #require(try await c.engine.handshake().sid)
            #expect(try await c.engine.post(sid, #"40{"token":"wrong-wrong-wrong-wrong"}"#) == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "forbidden", "wrong token")
        },
        Case("999,999 attachments announced before CONNECT") { c in
            let sid = try #require(try await c.engine.handshake().sid)
            #expect(try await c.engine.post(sid, announce) == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "binary_not_supported", "before CONNECT")
        },
        Case("999,999 attachments announced after CONNECT (token in auth)") { c in
            let sid = try await connected(c.engine, headers: [:], auth: #"{"token":"\#(token)"}"#)
            #expect(try await c.engine.post(sid, announce) == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "binary_not_supported", "after CONNECT")
        },
        Case("BINARY_ACK announcing 999,999 attachments") { c in
            let sid = try await connected(c.engine)
            #expect(try await c.engine.post(sid, "46999999-0[]") == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "binary_not_supported", "BINARY_ACK")
        },
        Case("BINARY_EVENT announcing no attachment") { c in
            let sid = try await connected(c.engine)
            #expect(try await c.engine.post(sid, #"450-["x"]"#) == 200)
            try await expectRefusedAndClosed(c.engine, sid, code: "binary_not_supported", "0 attachments")
        },
        Case("999,999 attachments over an Engine.IO WebSocket after CONNECT") { c in
            let (socket, _, _) = try await webSocket(c.relay.port, headers: "Authorization: Bearer \(token)\r\n") { $0.contains { $0.hasPrefix("0{") } }
            defer { socket.close() }
            try await socket.send(RawTCPConnection.webSocketFrame(Array("40".utf8)))
            _ = await socket.read(timeout: 10) { RawTCPConnection.serverTextFrames($0).contains { $0.contains("connection_established") } }
            try await socket.send(RawTCPConnection.webSocketFrame(Array(#"45999999-["x",{"_placeholder":true,"num":0}]"#.utf8)))
            try? await socket.send(RawTCPConnection.webSocketFrame(Array(repeating: 7, count: 30_000), opcode: 2))
            let (bytes, closed) = await socket.read(timeout: 10) { RawTCPConnection.serverFrames($0).contains { $0.opcode == 8 } }
            let frames = RawTCPConnection.serverFrames(bytes)
            #expect(frames.contains { $0.opcode == 1 && String(decoding: $0.payload, as: UTF8.self).contains(#""code":"binary_not_supported""#) }, "\(RawTCPConnection.serverTextFrames(bytes))")
            #expect(closed || frames.contains { $0.opcode == 8 })
        },
    ]

    static func awaitMetric(_ relay: RelayProcess, _ series: String, _ value: Double, timeout: Double = 20) async throws -> Double? {
        let deadline = Date().addingTimeInterval(timeout)
        var reading = try await relay.metric(series)
        while reading != value, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            reading = try await relay.metric(series)
        }
        return reading
    }

    @Test func everyAdmissionAttackGetsItsAnswerAndHarmsNoOne() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: Self.environment)
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        let bystander = try await Bystander(port: relay.port, extraHeaders: "Authorization: Bearer \(Self.token)\r\n")
        let context = Context(relay: relay, engine: EngineIOPolling(relay))
        var accepted: [Int] = []
        for hostile in Self.cases {
            try await hostile.run(context)
            #expect(try await relay.http("GET", "/healthz").status == 200, "\(hostile.name): /healthz")
            let marker = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"marker","data":"after \#(hostile.name)"}"#.utf8), headers: ["Content-Type": "application/json"])
            #expect(marker.status == 202, "\(hostile.name): the next good publish got \(marker.status)")
            accepted += HostileInputSuiteTests.acceptedSeqs(String(decoding: marker.body, as: UTF8.self)) ?? []
        }
        // After everything, a token holder still gets in over a stock client's path.
        let sid = try await Self.connected(context.engine)
        #expect(try await context.engine.post(sid, "1") == 200)
        let seen = await bystander.events(upTo: accepted.last ?? 0)
        #expect(seen == accepted, "the bystander saw \(seen), accepted \(accepted)")
        #expect(try await Self.awaitMetric(relay, Self.pending, 0) == 0)
        #expect(try await Self.awaitMetric(relay, Self.authenticated, 1) == 1, "only the bystander's slot is left")
        bystander.connection.close()
        #expect(await relay.terminate() == 0, "relay log:\n\(relay.log.suffix(3000))")
    }
}
