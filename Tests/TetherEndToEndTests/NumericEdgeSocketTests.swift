import Foundation
import Testing
import TetherTesting

/// Every numeric edge (`NumericEdge.table`) in every number a WebSocket or Socket.IO client
/// sends, against the real binary with a non-empty log: the native hello's `last_sequence` and
/// `history`, `ack` `seq`, `ping`/`pong` ids; Socket.IO `auth.last_sequence` and `auth.history`,
/// `request_replay` `last_sequence`/`from_sequence`, `acknowledge_event` `sequence`, and packet
/// ack ids. Each value gets its exact answer, the relay stays up, and a bystander misses nothing.
/// Before issue 15's fix, `request_replay` with `last_sequence` 2^64 − 1 killed the relay.
@Suite("Numeric edges over WebSocket and Socket.IO", .serialized)
struct NumericEdgeSocketTests {
    @Test func webSocketNumbersAreWholeNumbersUpTo2pow63Minus1() async throws {
        var harness = try await NumericEdgeRelay.start()
        let port = harness.relay.port
        for edge in NumericEdge.table {
            let json = edge.json
            // hello with this epoch and last_sequence: a resume, or future_sequence past the head.
            var head = harness.head
            var frames = try await Self.exchange(port, [#"{"type":"hello","epoch":"\#(harness.epoch)","last_sequence":\#(json)}"#]) { Self.has($0, "welcome") || Self.has($0, "error") }
            switch (edge.jsonIsValid, edge.frame) {
            case (false, _): Self.expectError(frames, "malformed", "hello last_sequence \(edge.name)")
            case (true, nil): Self.expectError(frames, "invalid_hello", "hello last_sequence \(edge.name)")
            case (true, let last?) where last <= head:
                #expect(frames.contains { $0.contains(Self.replay(from: last + 1, to: head, count: head - last)) }, "hello last_sequence \(edge.name): \(frames)")
            case (true, .some): Self.expectError(frames, "future_sequence", "hello last_sequence \(edge.name)")
            }
            try await harness.survived("hello last_sequence \(edge.name)")

            // hello with history: the newest N events.
            head = harness.head
            frames = try await Self.exchange(port, [#"{"type":"hello","history":\#(json)}"#]) { Self.has($0, "welcome") || Self.has($0, "error") }
            switch (edge.jsonIsValid, edge.frame.map { min($0, head) }) {
            case (false, _): Self.expectError(frames, "malformed", "hello history \(edge.name)")
            case (true, nil): Self.expectError(frames, "invalid_hello", "hello history \(edge.name)")
            case (true, let count?):
                #expect(frames.contains { $0.contains(Self.replay(from: head - count + 1, to: head, count: count)) }, "hello history \(edge.name): \(frames)")
            }
            try await harness.survived("hello history \(edge.name)")

            // ack after a live hello (delivered = head): silent when covered, else an error frame.
            head = harness.head
            frames = try await Self.exchange(port, [#"{"type":"hello"}"#, #"{"type":"ack","seq":\#(json)}"#, #"{"type":"ping","id":"after"}"#]) { Self.has($0, "pong") }
            switch (edge.jsonIsValid, edge.frame) {
            case (true, let seq?) where seq <= head:
                #expect(!frames.contains { $0.contains(#""type":"error""#) } && Self.has(frames, "pong"), "ack \(edge.name): \(frames)")
            case (true, .some): Self.expectError(frames, "ack_beyond_delivered", "ack \(edge.name)")
            default: Self.expectError(frames, "malformed", "ack \(edge.name)")
            }
            try await harness.survived("ack \(edge.name)")

            // ping and pong ids: any JSON value is echoed (ping) or ignored unless it is ours (pong).
            frames = try await Self.exchange(port, [#"{"type":"hello"}"#, #"{"type":"pong","id":\#(json)}"#, #"{"type":"ping","id":\#(json)}"#, #"{"type":"ping","id":"after"}"#]) {
                $0.contains { $0.contains(#""id":"after""#) } || Self.has($0, "error")
            }
            if edge.jsonIsValid {
                #expect(frames.contains(#"{"type":"pong","id":\#(json)}"#) && !Self.has(frames, "error"), "ping/pong id \(edge.name): \(frames)")
            } else {
                Self.expectError(frames, "malformed", "ping/pong id \(edge.name)")
            }
            try await harness.survived("ping/pong id \(edge.name)")
        }
        await harness.finish()
    }

    @Test func socketIONumbersAreWholeNumbersUpTo2pow63Minus1OrWholeFloatsUpTo2pow53() async throws {
        var harness = try await NumericEdgeRelay.start()
        let engine = EngineIOPolling(harness.relay)
        for edge in NumericEdge.table {
            let json = edge.json
            // auth.last_sequence with this epoch: 0 starts fresh, N resumes, past the head is refused.
            var head = harness.head
            var name = "auth.last_sequence \(edge.name)"
            var sid = try #require(try await engine.handshake().sid)
            #expect(try await engine.post(sid, #"40{"epoch":"\#(harness.epoch)","last_sequence":\#(json)}"#) == 200)
            switch (edge.jsonIsValid, edge.loose) {
            case (false, _): try await Self.expectClosed(engine, sid, name)
            case (true, nil): try await Self.expectRefused(engine, sid, "malformed", name)
            case (true, 0?):
                #expect(try await engine.poll(sid, until: "event_history").received.contains(#""replay_count":\#(min(50, head))"#), "\(name)")
            case (true, let last?) where last <= head:
                let received = try await engine.poll(sid, until: "event_replay").received
                #expect(received.contains(#""count":\#(head - last),"from_sequence":\#(last + 1),"to_sequence":\#(head)"#), "\(name): \(received.suffix(300))")
            case (true, .some): try await Self.expectRefused(engine, sid, "future_sequence", name)
            }
            try await Self.close(engine, sid)
            try await harness.survived(name)

            // auth.history: the newest N events as event_history.
            head = harness.head
            name = "auth.history \(edge.name)"
            sid = try #require(try await engine.handshake().sid)
            #expect(try await engine.post(sid, #"40{"history":\#(json)}"#) == 200)
            switch (edge.jsonIsValid, edge.loose.map { min($0, head) }) {
            case (false, _): try await Self.expectClosed(engine, sid, name)
            case (true, nil): try await Self.expectRefused(engine, sid, "malformed", name)
            case (true, let count?):
                let received = try await engine.poll(sid, until: "event_history").received
                #expect(received.contains(#""count":\#(count),"from_sequence":\#(head - count + 1)"#), "\(name): \(received.suffix(300))")
            }
            try await Self.close(engine, sid)
            try await harness.survived(name)

            // request_replay and acknowledge_event on a connected session (delivered = head).
            for request in ["last_sequence", "from_sequence", "sequence"] {
                head = harness.head
                name = "\(request == "sequence" ? "acknowledge_event" : "request_replay") \(request) \(edge.name)"
                sid = try await Self.connected(engine)
                let event = request == "sequence" ? "acknowledge_event" : "request_replay"
                #expect(try await engine.post(sid, #"42["\#(event)",{"\#(request)":\#(json)}]"#) == 200)
                guard edge.jsonIsValid else {
                    try await Self.expectClosed(engine, sid, name)
                    try await harness.survived(name)
                    continue
                }
                let answer = try await engine.poll(sid, until: request == "sequence" ? "ack_confirmed" : "event_replay").received
                switch (request, edge.loose) {
                case (_, nil):
                    #expect(answer.contains(#""code":"malformed""#), "\(name): \(answer.suffix(300))")
                case ("sequence", let seq?):
                    let reply = seq <= head ? #"{"sequence":\#(seq),"ok":true}"# : #"{"sequence":\#(seq),"ok":false,"error":{"code":"ack_beyond_delivered""#
                    #expect(answer.contains(reply), "\(name): \(answer.suffix(300))")
                case (_, let value?):
                    let after = request == "last_sequence" ? value : (value > 0 ? value - 1 : 0)
                    let count = after >= head ? 0 : head - after
                    let reply = #""count":\#(count),"from_sequence":\#(after + 1),"to_sequence":\#(count == 0 ? after : head)"#
                    #expect(answer.contains(reply), "\(name): \(answer.suffix(300))")
                }
                try await Self.close(engine, sid)
                try await harness.survived(name)
            }
        }

        // Packet ack ids are digits in the packet header, at most 15 of them.
        for (id, expected) in [("0", "0"), ("007", "7"), ("999999999999999", "999999999999999"), ("1000000000000000", nil), ("9223372036854775808", nil), ("18446744073709551615", nil), ("18446744073709551616", nil)] as [(String, String?)] {
            let name = "ack id \(id)"
            let sid = try await Self.connected(engine)
            #expect(try await engine.post(sid, #"42\#(id)["ping",{"timestamp":1}]"#) == 200)
            if let expected {
                let received = try await engine.poll(sid, until: #"43\#(expected)["#).received
                #expect(received.contains(#"43\#(expected)[{"timestamp":1"#), "\(name): \(received.suffix(300))")
                try await Self.close(engine, sid)
            } else {
                try await Self.expectClosed(engine, sid, name)
            }
            try await harness.survived(name)
        }
        await harness.finish()
    }

    // MARK: WebSocket

    /// Opens `/v1/ws`, sends `frames`, and returns the relay's text frames once `done` holds for
    /// them (or the relay closes, or 10 s pass).
    static func exchange(_ port: Int, _ frames: [String], until done: @escaping ([String]) -> Bool) async throws -> [String] {
        let connection = try RawTCPConnection(port: port)
        defer { connection.close() }
        try await connection.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port))
        let upgrade = await connection.read(timeout: 10) { RawTCPConnection.headEnd($0) != nil }
        let end = try #require(RawTCPConnection.headEnd(upgrade.bytes), "no upgrade")
        let before = Array(upgrade.bytes[(end + 4)...])
        for frame in frames {
            do { try await connection.send(RawTCPConnection.webSocketFrame(Array(frame.utf8))) } catch {}
        }
        let rest = await connection.read(timeout: 10) { done(RawTCPConnection.serverTextFrames(before + $0)) }
        return RawTCPConnection.serverTextFrames(before + rest.bytes)
    }

    static func has(_ frames: [String], _ type: String) -> Bool {
        frames.contains { $0.contains(#""type":"\#(type)""#) }
    }

    static func expectError(_ frames: [String], _ code: String, _ name: String) {
        #expect(frames.contains { $0.contains(#""type":"error""#) && $0.contains(#""code":"\#(code)""#) }, "\(name): no error \(code) in \(frames)")
    }

    /// The `replay` member of a WebSocket welcome without a gap.
    static func replay(from: UInt64, to: UInt64, count: UInt64) -> String {
        #""replay":{"from":\#(from),"to":\#(to),"count":\#(count),"gap":null,"reset":false}"#
    }

    // MARK: Socket.IO

    /// A session that CONNECTed with no auth and got its `event_history`.
    static func connected(_ engine: EngineIOPolling) async throws -> String {
        let sid = try #require(try await engine.handshake().sid)
        #expect(try await engine.post(sid, "40") == 200)
        let (_, received) = try await engine.poll(sid, until: "event_history")
        #expect(received.contains(#"40{"sid":""#), "CONNECT was not accepted: \(received.prefix(300))")
        return sid
    }

    /// CONNECT_ERROR with `code`.
    static func expectRefused(_ engine: EngineIOPolling, _ sid: String, _ code: String, _ name: String) async throws {
        let (_, received) = try await engine.poll(sid, until: #""code":"\#(code)""#)
        #expect(received.contains("44{") && received.contains(#""code":"\#(code)""#), "\(name): \(received.suffix(300))")
    }

    /// The packet was not even valid: the session is closed (a last poll may get the close packet).
    static func expectClosed(_ engine: EngineIOPolling, _ sid: String, _ name: String) async throws {
        var gone = false
        for _ in 0..<5 where !gone {
            gone = try await engine.poll(sid).status == 400
        }
        #expect(gone, "\(name): the session outlived a packet that is not JSON")
    }

    static func close(_ engine: EngineIOPolling, _ sid: String) async throws {
        _ = try? await engine.post(sid, "1")
    }
}
