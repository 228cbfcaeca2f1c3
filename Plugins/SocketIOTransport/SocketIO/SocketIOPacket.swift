import TetherCore

/// One Socket.IO v5 packet: `<type>[<attachments>-][/<namespace>,][<ack id>][<JSON payload>]`,
/// plus the binary attachments that follow a `BINARY_EVENT`/`BINARY_ACK` as separate messages.
///
/// The payload is kept as the JSON text it arrived as (validated, never re-encoded), so event
/// arguments can be passed on byte for byte, placeholders (`{"_placeholder":true,"num":N}`)
/// included. Written by hand because no package in the mirror speaks Socket.IO.
struct SocketIOPacket: Sendable, Hashable {
    enum Kind: UInt8, Sendable {
        case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
    }

    var kind: Kind
    var namespace: String
    var ackID: UInt64?
    /// The JSON payload as sent (empty when there is none).
    var payload: [UInt8]
    var attachments: [[UInt8]]
    /// How many binary attachments the header announced (decoding only).
    var expectedAttachments: Int

    init(_ kind: Kind, namespace: String = "/", ackID: UInt64? = nil, payload: [UInt8] = [], attachments: [[UInt8]] = []) {
        self.kind = kind
        self.namespace = namespace
        self.ackID = ackID
        self.payload = payload
        self.attachments = attachments
        self.expectedAttachments = attachments.count
    }

    /// An event (or binary event when there are attachments) whose payload is
    /// `[name, args...]`, each argument already JSON.
    static func event(_ name: String, _ arguments: [[UInt8]], namespace: String = "/", ackID: UInt64? = nil, attachments: [[UInt8]] = []) -> SocketIOPacket {
        var writer = JSONWriter(capacity: arguments.reduce(16 + name.utf8.count) { $0 + $1.count + 1 })
        writer.raw("[")
        writer.string(name)
        for argument in arguments {
            writer.raw(",")
            writer.raw(argument)
        }
        writer.raw("]")
        return SocketIOPacket(attachments.isEmpty ? .event : .binaryEvent, namespace: namespace, ackID: ackID, payload: writer.bytes, attachments: attachments)
    }

    /// An acknowledgement with `arguments` (each already JSON).
    static func ack(_ id: UInt64, _ arguments: [[UInt8]], namespace: String, attachments: [[UInt8]] = []) -> SocketIOPacket {
        var payload: [UInt8] = [UInt8(ascii: "[")]
        for (index, argument) in arguments.enumerated() {
            if index > 0 { payload.append(UInt8(ascii: ",")) }
            payload.append(contentsOf: argument)
        }
        payload.append(UInt8(ascii: "]"))
        return SocketIOPacket(attachments.isEmpty ? .ack : .binaryAck, namespace: namespace, ackID: id, payload: payload, attachments: attachments)
    }

    /// `CONNECT_ERROR` with `{"message": ..., "data": ...}` (data already JSON).
    static func connectError(_ message: String, data: [UInt8]? = nil, namespace: String) -> SocketIOPacket {
        var writer = JSONWriter()
        writer.raw("{\"message\":")
        writer.string(message)
        if let data {
            writer.raw(",\"data\":")
            writer.raw(data)
        }
        writer.raw("}")
        return SocketIOPacket(.connectError, namespace: namespace, payload: writer.bytes)
    }

    // MARK: Encoding

    /// The text part of the packet (attachments follow as binary messages).
    func encodeHeaderAndPayload() -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "0") + kind.rawValue]
        bytes.reserveCapacity(payload.count + namespace.utf8.count + 24)
        if kind == .binaryEvent || kind == .binaryAck {
            bytes.append(contentsOf: String(attachments.count).utf8)
            bytes.append(UInt8(ascii: "-"))
        }
        if namespace != "/" {
            bytes.append(contentsOf: namespace.utf8)
            bytes.append(UInt8(ascii: ","))
        }
        if let ackID { bytes.append(contentsOf: String(ackID).utf8) }
        bytes.append(contentsOf: payload)
        return bytes
    }

    // MARK: Decoding

    /// Decodes the text part of a packet. A binary packet comes back with
    /// `expectedAttachments` set and no attachments yet.
    ///
    /// - Throws: ``SocketIOProtocolError`` for an unknown type, a malformed header, invalid JSON,
    ///   or a payload of the wrong shape for its type (the session is then closed).
    static func decode(_ bytes: [UInt8], scanner: JSONScanner = JSONScanner()) throws(SocketIOProtocolError) -> SocketIOPacket {
        var index = 0
        guard let first = bytes.first, first >= UInt8(ascii: "0"), let kind = Kind(rawValue: first - UInt8(ascii: "0")) else {
            throw SocketIOProtocolError("unknown Socket.IO packet type")
        }
        index = 1
        var attachments = 0
        if kind == .binaryEvent || kind == .binaryAck {
            let start = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > start, index - start <= 6, index < bytes.count, bytes[index] == UInt8(ascii: "-"),
                let count = Int(String(decoding: bytes[start..<index], as: UTF8.self))
            else {
                throw SocketIOProtocolError("a binary packet must announce its attachments as <count>-")
            }
            attachments = count
            index += 1
        }
        var namespace = "/"
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        var ackID: UInt64?
        let idStart = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        if index > idStart {
            guard index - idStart <= 15, let id = UInt64(String(decoding: bytes[idStart..<index], as: UTF8.self)) else {
                throw SocketIOProtocolError("the ack id is not a number")
            }
            ackID = id
        }
        let payload = Array(bytes[index...])
        if !payload.isEmpty {
            do {
                _ = try scanner.validateDocument(payload, in: payload.indices)
            } catch {
                throw SocketIOProtocolError("the payload is not valid JSON (\(error))")
            }
        }
        var packet = SocketIOPacket(kind, namespace: namespace, ackID: ackID, payload: payload)
        packet.expectedAttachments = attachments
        try packet.checkShape(scanner)
        return packet
    }

    /// What the reference parser checks: CONNECT carries an object or nothing, DISCONNECT
    /// nothing, events a non-empty array starting with a name, acks an array.
    private func checkShape(_ scanner: JSONScanner) throws(SocketIOProtocolError) {
        let opening = payload.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        switch kind {
        case .connect:
            guard opening == nil || opening == UInt8(ascii: "{") else { throw SocketIOProtocolError("CONNECT carries an object or nothing") }
        case .disconnect:
            guard opening == nil else { throw SocketIOProtocolError("DISCONNECT carries no payload") }
        case .connectError:
            guard opening == UInt8(ascii: "{") || opening == UInt8(ascii: "\"") else { throw SocketIOProtocolError("CONNECT_ERROR carries an object or a string") }
        case .event, .binaryEvent:
            guard opening == UInt8(ascii: "["), let name = try? arguments(scanner).first,
                let nameStart = name.first, payload[nameStart] == UInt8(ascii: "\"") || isDigit(payload[nameStart])
            else {
                throw SocketIOProtocolError("an event is a non-empty array that starts with the event name")
            }
        case .ack, .binaryAck:
            guard opening == UInt8(ascii: "["), ackID != nil else { throw SocketIOProtocolError("an ack is an array with an ack id") }
        }
    }

    /// The elements of an event or ack payload, as ranges of `payload`.
    func arguments(_ scanner: JSONScanner = JSONScanner()) throws(SocketIOProtocolError) -> [Range<Int>] {
        do {
            let value = try scanner.validateDocument(payload, in: payload.indices)
            return try scanner.elements(ofArray: payload, in: value)
        } catch {
            throw SocketIOProtocolError("the payload is not a JSON array (\(error))")
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private func isDigit(_ byte: UInt8) -> Bool { Self.isDigit(byte) }
}

/// The peer broke the Socket.IO protocol; its connection is closed.
struct SocketIOProtocolError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
