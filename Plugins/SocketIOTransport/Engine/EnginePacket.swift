import struct Foundation.Data

/// One Engine.IO v4 packet: a type and an optional payload, text or binary.
///
/// Text packets are `<type digit><payload>`; binary packets are always messages (a WebSocket
/// binary frame, or `b<base64>` inside a polling payload). Written by hand because no package in
/// the mirror speaks Engine.IO.
struct EnginePacket: Sendable, Hashable {
    enum Kind: UInt8, Sendable {
        case open = 0, close, ping, pong, message, upgrade, noop
    }

    var kind: Kind
    var payload: [UInt8]
    /// A binary message (only `.message` packets can be binary).
    var isBinary: Bool

    init(_ kind: Kind, _ payload: [UInt8] = [], binary: Bool = false) {
        self.kind = kind
        self.payload = payload
        self.isBinary = binary
    }

    static func text(_ payload: [UInt8]) -> EnginePacket { EnginePacket(.message, payload) }
    static func binary(_ payload: [UInt8]) -> EnginePacket { EnginePacket(.message, payload, binary: true) }

    /// The record separator between packets of a polling payload.
    static let separator: UInt8 = 0x1E

    /// Bytes this packet takes in a polling payload (close enough for chunking by `maxPayload`).
    var encodedSize: Int { isBinary ? 1 + (payload.count + 2) / 3 * 4 : 1 + payload.count }

    /// Decodes one text packet (a WebSocket text frame, or one record of a polling payload).
    ///
    /// - Throws: ``EngineProtocolError`` when the first byte is not a packet type, or a `b`
    ///   record is not base64 (only allowed when `allowBase64`, i.e. in polling payloads).
    static func decode(_ bytes: ArraySlice<UInt8>, allowBase64: Bool) throws(EngineProtocolError) -> EnginePacket {
        guard let first = bytes.first else { throw EngineProtocolError("an empty packet has no type") }
        if first == UInt8(ascii: "b"), allowBase64 {
            guard let data = Data(base64Encoded: Data(bytes.dropFirst())) else {
                throw EngineProtocolError("a binary packet is not valid base64")
            }
            return .binary(Array(data))
        }
        guard first >= UInt8(ascii: "0"), let kind = Kind(rawValue: first - UInt8(ascii: "0")) else {
            throw EngineProtocolError("\"\(Character(Unicode.Scalar(first)))\" is not an Engine.IO packet type (0-6)")
        }
        return EnginePacket(kind, Array(bytes.dropFirst()))
    }

    /// Splits a polling request body into packets (`\x1e`-separated, binary ones as `b<base64>`).
    static func decodePayload(_ body: [UInt8]) throws(EngineProtocolError) -> [EnginePacket] {
        var packets: [EnginePacket] = []
        for record in body.split(separator: separator, omittingEmptySubsequences: false) {
            packets.append(try decode(record, allowBase64: true))
        }
        return packets
    }

    /// Appends the packet as text: `<type><payload>`, or `b<base64>` for a binary message.
    func encode(into bytes: inout [UInt8]) {
        if isBinary {
            bytes.append(UInt8(ascii: "b"))
            bytes.append(contentsOf: Data(payload).base64EncodedData())
        } else {
            bytes.append(UInt8(ascii: "0") + kind.rawValue)
            bytes.append(contentsOf: payload)
        }
    }

    /// The packets of one polling response, `\x1e`-separated.
    static func encodePayload(_ packets: some Sequence<EnginePacket>) -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, packet) in packets.enumerated() {
            if index > 0 { bytes.append(separator) }
            packet.encode(into: &bytes)
        }
        return bytes
    }
}

/// The peer broke the Engine.IO protocol; the session it happened on is closed.
struct EngineProtocolError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
