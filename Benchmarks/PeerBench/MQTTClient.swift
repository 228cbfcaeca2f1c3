import NIOCore

/// A minimal MQTT 3.1.1 client: CONNECT (clean session = false, fixed client id), SUBSCRIBE at
/// QoS 1, PUBLISH at QoS 1 in both directions with one PUBACK per message (QoS 1 has no
/// cumulative ack), PINGREQ for keep-alive, DISCONNECT. Written by hand because no MQTT package
/// is among the ones this machine offers, and the benchmark needs only these eight packets.
final class MQTTClient: PeerClient, @unchecked Sendable {
    private var nextPacketID: UInt16 = 1
    private var keepAlive: RepeatedTask?
    private var connected = false

    override func start() {
        var body = ByteBuffer()
        Self.writeString("MQTT", to: &body)
        body.writeInteger(UInt8(4))                                       // protocol level 3.1.1
        body.writeInteger(UInt8(settings.subscribe ? 0x00 : 0x02))         // subscribers keep their session
        body.writeInteger(UInt16(60))                                     // keep-alive seconds
        Self.writeString(settings.clientID, to: &body)
        write(Self.packet(0x10, body))
        keepAlive = loop.scheduleRepeatedTask(initialDelay: .seconds(30), delay: .seconds(30)) { [weak self] _ in
            guard let self else { return }
            self.write(ByteBuffer(bytes: [0xC0, 0x00]))                   // PINGREQ
            self.flush()
        }
    }

    override func publish(_ payload: ByteBuffer) {
        var body = ByteBuffer()
        Self.writeString(settings.topic, to: &body)
        body.writeInteger(takePacketID())
        var payload = payload
        body.writeBuffer(&payload)
        write(Self.packet(0x32, body))                                    // PUBLISH, QoS 1
    }

    override func goodbye() {
        keepAlive?.cancel()
        write(ByteBuffer(bytes: [0xE0, 0x00]))                            // DISCONNECT
    }

    override func channelInactive(context: ChannelHandlerContext) {
        keepAlive?.cancel()
        super.channelInactive(context: context)
    }

    override func parse() throws {
        while true {
            guard let (type, flags, length, headerSize) = Self.header(inbound) else { return }
            guard inbound.readableBytes >= headerSize + length else { return }
            inbound.moveReaderIndex(forwardBy: headerSize)
            var body = inbound.readSlice(length: length)!
            switch type {
            case 2:  // CONNACK
                guard length == 2, let code = body.getInteger(at: body.readerIndex + 1, as: UInt8.self), code == 0 else {
                    throw PeerError("MQTT CONNACK refused the connection")
                }
                connected = true
                if settings.subscribe {
                    var subscribe = ByteBuffer()
                    subscribe.writeInteger(takePacketID())
                    Self.writeString(settings.topic, to: &subscribe)
                    subscribe.writeInteger(UInt8(1))                          // QoS 1
                    write(Self.packet(0x82, subscribe))
                } else {
                    ready.succeed()
                }
            case 9:  // SUBACK
                guard let code = body.getInteger(at: body.readerIndex + 2, as: UInt8.self), code != 0x80 else {
                    throw PeerError("MQTT SUBACK refused the subscription")
                }
                ready.succeed()
            case 3:  // PUBLISH
                let qos = (flags >> 1) & 3
                guard let topicLength = body.readInteger(as: UInt16.self) else { throw PeerError("short MQTT PUBLISH") }
                body.moveReaderIndex(forwardBy: Int(topicLength))
                var packetID: UInt16?
                if qos > 0 { packetID = body.readInteger(as: UInt16.self) }
                onEvent?(body)
                if let packetID {
                    var ack = ByteBuffer()
                    ack.writeBytes([0x40, 0x02])
                    ack.writeInteger(packetID)
                    write(ack)                                            // PUBACK, one per message
                }
            case 4:  // PUBACK for our publish
                onConfirm?()
            case 13:  // PINGRESP
                break
            default:
                throw PeerError("unexpected MQTT packet type \(type)")
            }
        }
    }

    private func takePacketID() -> UInt16 {
        let id = nextPacketID
        nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
        return id
    }

    /// Fixed header: type, flags, remaining length, and the header's own size.
    private static func header(_ buffer: ByteBuffer) -> (UInt8, UInt8, Int, Int)? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        var length = 0
        var multiplier = 1
        var index = 1
        while true {
            guard index <= 4, let byte = buffer.getInteger(at: buffer.readerIndex + index, as: UInt8.self) else { return nil }
            length += Int(byte & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if byte & 0x80 == 0 { break }
        }
        return (first >> 4, first & 0x0F, length, index)
    }

    private static func packet(_ first: UInt8, _ body: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + 5)
        out.writeInteger(first)
        var length = body.readableBytes
        repeat {
            var byte = UInt8(length % 128)
            length /= 128
            if length > 0 { byte |= 0x80 }
            out.writeInteger(byte)
        } while length > 0
        var body = body
        out.writeBuffer(&body)
        return out
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(string.utf8.count))
        buffer.writeString(string)
    }
}
