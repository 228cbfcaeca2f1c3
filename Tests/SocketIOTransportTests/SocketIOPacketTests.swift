import Testing
@testable import SocketIOTransport

/// The Socket.IO v5 packet codec, case by case (the shapes the official suite sends).
@Suite struct SocketIOPacketTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var text: String
        var kind: SocketIOPacket.Kind
        var namespace: String
        var ackID: UInt64?
        var attachments: Int
        var payload: String
        var testDescription: String { text }
    }

    static let valid: [Valid] = [
        Valid(text: "0", kind: .connect, namespace: "/", attachments: 0, payload: ""),
        Valid(text: #"0{"token":"123"}"#, kind: .connect, namespace: "/", attachments: 0, payload: #"{"token":"123"}"#),
        Valid(text: "0/custom,", kind: .connect, namespace: "/custom", attachments: 0, payload: ""),
        Valid(text: "0/random", kind: .connect, namespace: "/random", attachments: 0, payload: ""),
        Valid(text: #"0/custom,{"token":"abc"}"#, kind: .connect, namespace: "/custom", attachments: 0, payload: #"{"token":"abc"}"#),
        Valid(text: "1/custom", kind: .disconnect, namespace: "/custom", attachments: 0, payload: ""),
        Valid(text: #"2["message",1,"2",{"3":[true]}]"#, kind: .event, namespace: "/", attachments: 0, payload: #"["message",1,"2",{"3":[true]}]"#),
        Valid(text: #"2456["message-with-ack",1]"#, kind: .event, namespace: "/", ackID: 456, attachments: 0, payload: #"["message-with-ack",1]"#),
        Valid(text: #"2/admin,12["hello"]"#, kind: .event, namespace: "/admin", ackID: 12, attachments: 0, payload: #"["hello"]"#),
        Valid(text: #"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#, kind: .binaryEvent, namespace: "/", attachments: 2,
              payload: #"["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        Valid(text: #"52-789["m",{"_placeholder":true,"num":0}]"#, kind: .binaryEvent, namespace: "/", ackID: 789, attachments: 2, payload: #"["m",{"_placeholder":true,"num":0}]"#),
        Valid(text: "3456[]", kind: .ack, namespace: "/", ackID: 456, attachments: 0, payload: "[]"),
    ]

    @Test(arguments: valid)
    func decodesValidPacket(_ item: Valid) throws {
        let packet = try SocketIOPacket.decode(Array(item.text.utf8))
        #expect(packet.kind == item.kind)
        #expect(packet.namespace == item.namespace)
        #expect(packet.ackID == item.ackID)
        #expect(packet.expectedAttachments == item.attachments)
        #expect(String(decoding: packet.payload, as: UTF8.self) == item.payload)
    }

    @Test(arguments: [
        "abc",  // unknown type
        "7",  // unknown type
        "2{}",  // event payload is not an array
        "2[]",  // event without a name
        #"2abc["message-with-ack",1]"#,  // ack id that is not a number
        #"2["message""#,  // truncated JSON
        "0[1]",  // CONNECT with a non-object
        "1{}",  // DISCONNECT with a payload
        #"5["m"]"#,  // binary event without <count>-
        "3[1]",  // ack without id
        "",
    ])
    func refusesMalformedPacket(_ text: String) {
        #expect(throws: SocketIOProtocolError.self) { try SocketIOPacket.decode(Array(text.utf8)) }
    }

    @Test func encodesBinaryAckWithNamespaceAndAttachments() {
        let packet = SocketIOPacket.ack(789, [Array(#"{"_placeholder":true,"num":0}"#.utf8)], namespace: "/admin", attachments: [[1, 2, 3]])
        #expect(String(decoding: packet.encodeHeaderAndPayload(), as: UTF8.self) == #"61-/admin,789[{"_placeholder":true,"num":0}]"#)
    }

    @Test func encodesEventArgumentsByteForByte() {
        let packet = SocketIOPacket.event("message-back", [Array("1".utf8), Array(#""2""#.utf8), Array(#"{"3":[true]}"#.utf8)])
        #expect(String(decoding: packet.encodeHeaderAndPayload(), as: UTF8.self) == #"2["message-back",1,"2",{"3":[true]}]"#)
    }
}
