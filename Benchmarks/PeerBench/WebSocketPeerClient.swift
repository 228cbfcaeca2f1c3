import NIOCore
import TetherCore

/// The WebSocket half of a benchmark client on raw NIO (RFC 6455, no extensions): the HTTP
/// upgrade to `path`, masked client frames, reassembly of fragmented text frames, answers to
/// WebSocket pings and a close on the server's close. A subclass speaks its protocol in
/// `upgraded()` and `message(_:)`. Event-loop confined, like every ``PeerClient``.
class WebSocketPeerClient: PeerClient, @unchecked Sendable {
    private var isUpgraded = false
    private var fragments: ByteBuffer?
    private let mask: [UInt8] = [0x5A, 0xC3, 0x17, 0x8E]
    private var saidGoodbye = false

    /// The request target of the upgrade, e.g. `/v1/ws`.
    var path: String { "/" }
    /// The upgrade succeeded: send the protocol's first message, if it has one.
    func upgraded() {}
    /// One whole text message.
    func message(_ frame: ByteBuffer) throws {}

    override func start() {
        write(ByteBuffer(string: """
            GET \(path) HTTP/1.1\r
            Host: 127.0.0.1:\(settings.port)\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Sec-WebSocket-Version: 13\r
            \r

            """))
    }

    override func goodbye() {
        saidGoodbye = true
        writeFrame(opcode: 0x8, ByteBuffer(bytes: [0x03, 0xE8]))  // close 1000
    }

    func sendText(_ payload: ByteBuffer) { writeFrame(opcode: 0x1, payload) }

    /// Client frames must be masked (RFC 6455 5.3).
    func writeFrame(opcode: UInt8, _ payload: ByteBuffer) {
        var frame = ByteBuffer()
        let length = payload.readableBytes
        frame.reserveCapacity(length + 14)
        frame.writeInteger(0x80 | opcode)
        if length < 126 {
            frame.writeInteger(UInt8(0x80 | length))
        } else if length <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeBytes(mask)
        payload.withUnsafeReadableBytes { bytes in
            for (i, byte) in bytes.enumerated() { frame.writeInteger(byte ^ mask[i & 3]) }
        }
        write(frame)
    }

    override func parse() throws {
        if !isUpgraded {
            let view = inbound.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            let head = inbound.readString(length: end.upperBound - inbound.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else { throw PeerError("WebSocket upgrade refused: \(head.prefix(80))") }
            isUpgraded = true
            upgraded()
        }
        while true {
            guard let first = inbound.getInteger(at: inbound.readerIndex, as: UInt8.self),
                  let second = inbound.getInteger(at: inbound.readerIndex + 1, as: UInt8.self) else { return }
            var headerSize = 2
            var length = Int(second & 0x7F)
            if length == 126 {
                guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt16.self) else { return }
                length = Int(extended)
                headerSize = 4
            } else if length == 127 {
                guard let extended = inbound.getInteger(at: inbound.readerIndex + 2, as: UInt64.self) else { return }
                length = Int(extended)
                headerSize = 10
            }
            guard second & 0x80 == 0 else { throw PeerError("the relay sent a masked frame") }
            guard inbound.readableBytes >= headerSize + length else { return }
            inbound.moveReaderIndex(forwardBy: headerSize)
            var payload = inbound.readSlice(length: length)!
            let fin = first & 0x80 != 0
            switch first & 0x0F {
            case 0x1, 0x0:
                if !fin || fragments != nil {
                    fragments = fragments ?? ByteBuffer()
                    fragments!.writeBuffer(&payload)
                    guard fin else { continue }
                    payload = fragments!
                    fragments = nil
                }
                try message(payload)
            case 0x9:
                writeFrame(opcode: 0xA, payload)
            case 0x8:
                // A close the benchmark did not ask for ends this client's part of the run; the
                // shared table (TetherCore's CloseCodeTable, as every Tether client) says why.
                if !saidGoodbye, let code = payload.getInteger(at: payload.readerIndex, as: UInt16.self) {
                    let rule = CloseCodeTable.rule(for: Int(code))
                    onError?("the relay closed the connection with \(code) (\(rule.name)): \(rule.text)")
                }
                context?.close(promise: nil)
                return
            default:
                break
            }
        }
    }
}
