import Foundation
import Testing
import TetherTesting

/// Each kind of bad input gets its documented error frame and close code, is counted in the
/// stats' `refused`, and leaves a bystander on the same relay untouched.
@Suite("WebSocket bad input")
struct WebSocketBadInputTests {
    struct BadFrame: Sendable, CustomTestStringConvertible {
        enum Payload: Sendable {
            case text(String)
            case binary
            case oversized
        }

        var name: String
        /// Whether the connection says hello before the bad frame.
        var afterHello: Bool
        var payload: Payload
        var code: String
        /// The close code that follows, or nil when the connection stays open.
        var close: Int?
        var testDescription: String { name }
    }

    static let maxFrameBytes = 4096

    static let cases: [BadFrame] = [
        BadFrame(name: "not JSON first", afterHello: false, payload: .text("hello?"), code: "malformed", close: 4500),
        BadFrame(name: "not JSON after hello", afterHello: true, payload: .text("{\"type\":"), code: "malformed", close: 4500),
        BadFrame(name: "JSON but not an object", afterHello: true, payload: .text("[1,2]"), code: "malformed", close: 4500),
        BadFrame(name: "unknown type", afterHello: true, payload: .text(#"{"type":"subscribe"}"#), code: "unknown_type", close: nil),
        BadFrame(name: "binary frame", afterHello: true, payload: .binary, code: "unsupported_data", close: 1003),
        BadFrame(name: "first frame not hello", afterHello: false, payload: .text(#"{"type":"ack","seq":1}"#), code: "hello_required", close: 4500),
        BadFrame(name: "second hello", afterHello: true, payload: .text(#"{"type":"hello"}"#), code: "duplicate_hello", close: 4500),
        BadFrame(name: "ack beyond delivered", afterHello: true, payload: .text(#"{"type":"ack","seq":99}"#), code: "ack_beyond_delivered", close: nil),
        BadFrame(name: "frame over the limit", afterHello: true, payload: .oversized, code: "too_large", close: 1009),
        BadFrame(name: "last_sequence from the future", afterHello: false, payload: .text(#"{"type":"hello","epoch":"EPOCH","last_sequence":1000}"#), code: "future_sequence", close: 4501),
        BadFrame(name: "hello field of the wrong type", afterHello: false, payload: .text(#"{"type":"hello","last_sequence":"ten"}"#), code: "invalid_hello", close: 4500),
        BadFrame(name: "publish without topic", afterHello: true, payload: .text(#"{"type":"publish","data":1,"id":"p"}"#), code: "invalid_event", close: nil),
    ]

    @Test(arguments: cases)
    func badFrameIsRefusedCountedAndHarmsNoOneElse(_ bad: BadFrame) async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_TRANSPORT_WEBSOCKET_MAX_FRAME_BYTES": "\(Self.maxFrameBytes)"])
        let bystander = RawSocket.connect(port: relay.port)
        let bystanderWelcome = try await bystander.hello()
        let epoch = try #require(bystanderWelcome["epoch"] as? String)
        try await relay.publish(2)
        _ = try await bystander.events(2)

        let socket = RawSocket.connect(port: relay.port)
        if bad.afterHello { _ = try await socket.hello(["topics": ["elsewhere"]]) }
        switch bad.payload {
        case .text(let text): socket.send(text.replacingOccurrences(of: "EPOCH", with: epoch))
        case .binary: socket.sendBinary([0x7B, 0x7D])
        case .oversized: socket.send(#"{"type":"publish","topic":"t","data":""# + String(repeating: "x", count: Self.maxFrameBytes * 2) + #""}"#)
        }
        let error = try await socket.expect("error")
        #expect(error["code"] as? String == bad.code)
        #expect((error["message"] as? String)?.isEmpty == false)
        if let close = bad.close {
            #expect(error["close"] as? Int == close)
            #expect(try await socket.closed() == close)
        } else {
            // Still open and still answering.
            socket.send(#"{"type":"ping","id":"still-there"}"#)
            let pong = try await socket.expect("pong")
            #expect(pong["id"] as? String == "still-there")
            socket.close()
        }

        // Counted, and the bystander still gets its events.
        let stats = try await relay.stats()
        let refused = (stats["totals"] as? [String: Any])?["refused"] as? [String: Any]
        #expect((refused?[bad.code] as? Int ?? 0) >= 1, "refused: \(String(describing: refused))")
        try await relay.publish(1, start: 2)
        let (events, _) = try await bystander.events(1)
        #expect(events.first?["seq"] as? Int == 3)
        bystander.close()
        await relay.terminate()
    }

    // MARK: Framing (RFC 6455 §5)

    /// Frames no WebSocket library sends, written byte for byte on a plain TCP connection.
    struct BadFraming: Sendable, CustomTestStringConvertible {
        var name: String
        /// Whether the connection says hello (a correct, masked frame) before `frames`.
        var afterHello: Bool
        var frames: [[UInt8]]
        /// The close code the relay must send; nil when the connection must stay open.
        var close: Int?
        /// The `error` frame's code before the close; nil when none may come.
        var code: String?
        var testDescription: String { name }

        init(_ name: String, afterHello: Bool = true, _ frames: [[UInt8]], close: Int?, code: String?) {
            self.name = name
            self.afterHello = afterHello
            self.frames = frames
            self.close = close
            self.code = code
        }
    }

    static func frame(_ text: String, opcode: UInt8 = 1, fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        RawTCPConnection.webSocketFrame(Array(text.utf8), opcode: opcode, fin: fin, masked: masked, reservedBits: rsv)
    }
    static func frame(bytes: [UInt8], opcode: UInt8, fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
        RawTCPConnection.webSocketFrame(bytes, opcode: opcode, fin: fin, masked: masked, reservedBits: rsv)
    }
    static let ping = #"{"type":"ping","id":"p"}"#
    static let hello = #"{"type":"hello"}"#

    static let framing: [BadFraming] = [
        // §5.1: a server MUST close the connection on an unmasked client frame.
        BadFraming("unmasked text frame", [frame(ping, masked: false)], close: 1002, code: "invalid_frame"),
        BadFraming("unmasked hello as the first frame", afterHello: false, [frame(hello, masked: false)], close: 1002, code: "invalid_frame"),
        BadFraming("unmasked ping control frame", [frame(bytes: [1, 2], opcode: 9, masked: false)], close: 1002, code: "invalid_frame"),
        BadFraming("unmasked close frame", [frame(bytes: [0x03, 0xE8], opcode: 8, masked: false)], close: 1002, code: "invalid_frame"),
        // §5.4: fragments belong to one message at a time.
        BadFraming("continuation with no message started", afterHello: false, [frame(hello, opcode: 0)], close: 1002, code: "invalid_frame"),
        BadFraming("continuation after a finished message", [frame(ping), frame(ping, opcode: 0)], close: 1002, code: "invalid_frame"),
        BadFraming("text frame inside a fragmented message", [frame(#"{"type":"ping","#, fin: false), frame(#""id":"p"}"#)], close: 1002, code: "invalid_frame"),
        BadFraming("binary frame inside a fragmented text message", [frame(#"{"type":"ping","#, fin: false), frame(#""id":"p"}"#, opcode: 2)], close: 1002, code: "invalid_frame"),
        // §5.2: reserved bits and opcodes without a negotiated extension.
        BadFraming("RSV1 on a text frame", [frame(ping, rsv: 4)], close: 1002, code: "invalid_frame"),
        BadFraming("RSV3 on a ping", [frame(bytes: [], opcode: 9, rsv: 1)], close: 1002, code: "invalid_frame"),
        BadFraming("reserved data opcode 0x3", [frame(ping, opcode: 3)], close: 1002, code: "invalid_frame"),
        BadFraming("reserved control opcode 0xB", [frame(bytes: [], opcode: 0xB)], close: 1002, code: "invalid_frame"),
        // §5.5: control frames are short and never fragmented.
        BadFraming("ping of 126 bytes", [frame(bytes: Array(repeating: 0x61, count: 126), opcode: 9)], close: 1002, code: "invalid_frame"),
        BadFraming("fragmented ping", [frame(bytes: [1], opcode: 9, fin: false)], close: 1002, code: "invalid_frame"),
        // §5.5.1, §7.4: a close payload is empty or a valid code, then UTF-8.
        BadFraming("close with a 1-byte payload", [frame(bytes: [0x03], opcode: 8)], close: 1002, code: "invalid_frame"),
        BadFraming("close code 1005 (never sent on the wire)", [RawTCPConnection.webSocketClose(1005)], close: 1002, code: "invalid_frame"),
        BadFraming("close code 2999 (unassigned)", [RawTCPConnection.webSocketClose(2999)], close: 1002, code: "invalid_frame"),
        BadFraming("close reason not UTF-8", [RawTCPConnection.webSocketClose(1000, reason: [0xFF])], close: 1007, code: "invalid_utf8"),
        // §8.1: a text message is UTF-8 as a whole.
        BadFraming("text message not UTF-8", [frame(bytes: Array(#"{"type":"ping","id":""#.utf8) + [0xFF] + Array(#""}"#.utf8), opcode: 1)], close: 1007, code: "invalid_utf8"),
        BadFraming("text not UTF-8 where fragments meet", [frame(bytes: Array(#"{"type":"ping","id":""#.utf8) + [0xC3], opcode: 1, fin: false), frame(bytes: [0x28] + Array(#""}"#.utf8), opcode: 0)], close: 1007, code: "invalid_utf8"),
        // What the rules allow.
        BadFraming("a UTF-8 character split across fragments", [frame(bytes: Array(#"{"type":"ping","id":""#.utf8) + [0xC3], opcode: 1, fin: false), frame(bytes: [0xA9] + Array(#""}"#.utf8), opcode: 0)], close: nil, code: nil),
        BadFraming("a ping between fragments", [frame(#"{"type":"ping","#, fin: false), frame(bytes: [7], opcode: 9), frame(#""id":"p"}"#, opcode: 0)], close: nil, code: nil),
        BadFraming("close code 4000 (private use) with a reason", [RawTCPConnection.webSocketClose(4000, reason: Array("bye".utf8))], close: 1000, code: nil),
    ]

    @Test(arguments: framing)
    func badFramingIsClosedWithItsRFCCodeAndHarmsNoOneElse(_ bad: BadFraming) async throws {
        let relay = try await RelayProcess.start()
        let bystander = RawSocket.connect(port: relay.port)
        _ = try await bystander.hello()
        try await relay.publish(2)
        #expect(try await bystander.events(2).events.map { $0["seq"] as? Int } == [1, 2])

        let socket = try await RawFrameSocket.open(port: relay.port)
        if bad.afterHello {
            try await socket.connection.send(Self.frame(Self.hello))
            #expect(await socket.read { frames, _ in frames.contains { $0.contains(#""type":"welcome""#) } }, "no welcome: \(socket.texts)")
        }
        for frame in bad.frames {
            do { try await socket.connection.send(frame) } catch {}
        }
        if let close = bad.close {
            _ = await socket.read { _, code in code != nil }
            #expect(socket.closeCode == close, "frames: \(socket.texts)")
            let error = socket.texts.first { $0.contains(#""type":"error""#) }
            if let code = bad.code {
                #expect(error?.contains(#""code":"\#(code)""#) == true, "frames: \(socket.texts)")
                #expect(error?.contains(#""close":\#(close)"#) == true, "frames: \(socket.texts)")
            } else {
                #expect(error == nil)
            }
        } else {
            try await socket.connection.send(Self.frame(#"{"type":"ping","id":"still-there"}"#))
            #expect(await socket.read { frames, _ in frames.contains { $0.contains("still-there") } }, "frames: \(socket.texts)")
            #expect(socket.texts.filter { $0.contains(#""type":"pong""#) }.count == 2, "frames: \(socket.texts)")
            #expect(socket.closeCode == nil)
        }
        socket.connection.close()

        if let code = bad.code {
            let refused = (try await relay.stats()["totals"] as? [String: Any])?["refused"] as? [String: Any]
            #expect(refused?[code] as? Int == 1, "refused: \(String(describing: refused))")
        }
        #expect(try await relay.http("GET", "/healthz").status == 200)
        try await relay.publish(1, start: 2)
        #expect(try await bystander.events(1).events.map { $0["seq"] as? Int } == [3])
        bystander.close()
        await relay.terminate()
    }

    @Test func unmaskedFrameInTheSamePacketAsTheUpgradeIsRefused() async throws {
        // The rules must be in place before NIO releases the bytes that followed the request.
        let relay = try await RelayProcess.start()
        let connection = try RawTCPConnection(port: relay.port)
        try await connection.send(Array(RawTCPConnection.webSocketUpgrade("/v1/ws", port: relay.port).utf8) + Self.frame(Self.hello, masked: false))
        let reply = await connection.read { bytes in
            guard let end = RawTCPConnection.headEnd(bytes) else { return false }
            return RawTCPConnection.serverCloseCode(Array(bytes[(end + 4)...])) != nil
        }
        let end = try #require(RawTCPConnection.headEnd(reply.bytes), "no response: \(String(decoding: reply.bytes, as: UTF8.self))")
        let frames = Array(reply.bytes[(end + 4)...])
        #expect(RawTCPConnection.serverCloseCode(frames) == 1002)
        #expect(RawTCPConnection.serverTextFrames(frames).first?.contains(#""code":"invalid_frame""#) == true)
        connection.close()
        await relay.terminate()
    }

    @Test func silentConnectionIsClosedAfterTheHelloTimeout() async throws {
        // 2 s: at 0.2 s this failed once in a full parallel run on a machine at load 60 (no
        // frame reached the test client within 20 s). Not reproduced since, even at 0.01 s, so
        // the cause is unknown; the relay log is attached if it happens again.
        let relay = try await RelayProcess.start(environment: ["TETHER_TRANSPORT_WEBSOCKET_HELLO_TIMEOUT": "2"])
        let socket = RawSocket.connect(port: relay.port)
        let error: [String: Any]
        do {
            error = try await socket.expect("error")
        } catch {
            Issue.record("\(error)\nrelay log:\n\(relay.log)")
            return
        }
        #expect(error["code"] as? String == "hello_timeout")
        #expect(try await socket.closed() == 4001)
        await relay.terminate()
    }
}
