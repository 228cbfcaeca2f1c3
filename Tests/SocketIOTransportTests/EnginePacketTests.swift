import Testing
@testable import SocketIOTransport

/// Engine.IO v4 packets and polling payloads.
@Suite struct EnginePacketTests {
    @Test func decodesPayloadOfTextAndBinaryPackets() throws {
        let packets = try EnginePacket.decodePayload(Array("4hello\u{1e}bAQIDBA==\u{1e}2\u{1e}3probe".utf8))
        #expect(packets == [.text(Array("hello".utf8)), .binary([1, 2, 3, 4]), EnginePacket(.ping), EnginePacket(.pong, Array("probe".utf8))])
    }

    @Test func encodesPayloadAsTheReferenceServerDoes() {
        let bytes = EnginePacket.encodePayload([.text(Array("test1".utf8)), .binary([1, 2, 3, 4]), EnginePacket(.noop)])
        #expect(String(decoding: bytes, as: UTF8.self) == "4test1\u{1e}bAQIDBA==\u{1e}6")
    }

    @Test(arguments: ["abc", "", "4a\u{1e}", "8", "b!!notbase64"])
    func refusesMalformedPayload(_ body: String) {
        #expect(throws: EngineProtocolError.self) { try EnginePacket.decodePayload(Array(body.utf8)) }
    }

    @Test func webSocketTextFramesDoNotTakeBase64() {
        #expect(throws: EngineProtocolError.self) { try EnginePacket.decode(ArraySlice("bAQID".utf8), allowBase64: false) }
    }
}
