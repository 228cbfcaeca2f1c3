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
