import Logging
import TetherCore

/// The server side of one namespace: serves each socket that connects to it.
protocol SocketIONamespace: Sendable {
    /// Runs for one socket's life. Must first ``SocketIOSocket/accept(extra:)`` or
    /// ``SocketIOSocket/refuse(_:data:)`` it, then typically reads ``SocketIOSocket/inbound``
    /// until it finishes. Returning ends the socket (the client is not told unless the namespace
    /// called ``SocketIOSocket/disconnect()``).
    func serve(_ socket: SocketIOSocket) async
}

/// Socket.IO v5 over Engine.IO sessions: multiplexes namespaces on each session, reassembles
/// binary packets, and closes the session on any protocol violation (what the official suite
/// expects: a malformed packet ends that client's connection, nothing else).
///
/// Binary packets are bounded before anything is kept for them: one announcing more than
/// `maxAttachments` (with `0`, any BINARY_EVENT or BINARY_ACK) is answered with CONNECT_ERROR
/// (`data.code` `binary_not_supported`) and the session is closed, before or after CONNECT.
struct SocketIOServer: Sendable {
    var namespaces: [String: any SocketIONamespace]
    /// Milliseconds a new session may go without connecting to a namespace before it is closed.
    var connectTimeout: Int
    /// Most binary attachments one packet may announce; `0` refuses binary packets altogether.
    /// What one reassembly holds is at most this many messages of `maxPayload` bytes each.
    var maxAttachments: Int
    var logger: Logger

    init(namespaces: [String: any SocketIONamespace], connectTimeout: Int, maxAttachments: Int, logger: Logger) {
        self.namespaces = namespaces
        self.connectTimeout = connectTimeout
        self.maxAttachments = maxAttachments
        self.logger = logger
    }

    /// The code a refused binary packet's CONNECT_ERROR carries in `data.code`.
    static let binaryNotSupported = RelayError.Code(rawValue: "binary_not_supported")

    /// Serves one Engine.IO session until it closes (``EngineServer``'s `onConnection`).
    func run(_ engine: EngineSocket) async {
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(connectTimeout))
            engine.close(.serverClosed)
        }
        var sockets: [String: SocketIOSocket] = [:]
        var pending: SocketIOPacket?
        let scanner = JSONScanner()
        defer {
            watchdog.cancel()
            for socket in sockets.values { socket.finish() }
        }
        for await message in engine.inbound {
            var packet: SocketIOPacket
            do {
                switch message {
                case .text(let bytes):
                    guard pending == nil else { throw SocketIOProtocolError("a text packet arrived while binary attachments were expected") }
                    packet = try SocketIOPacket.decode(bytes, scanner: scanner)
                    if packet.kind == .binaryEvent || packet.kind == .binaryAck, maxAttachments == 0 || packet.expectedAttachments > maxAttachments {
                        refuseBinary(packet, engine: engine)
                        return
                    }
                    if packet.expectedAttachments > 0 {
                        pending = packet
                        continue
                    }
                case .binary(let bytes):
                    guard var reassembling = pending else { throw SocketIOProtocolError("a binary message arrived that no packet announced") }
                    reassembling.attachments.append(bytes)
                    guard reassembling.attachments.count == reassembling.expectedAttachments else {
                        pending = reassembling
                        continue
                    }
                    pending = nil
                    packet = reassembling
                }
                try await dispatch(packet, engine: engine, sockets: &sockets, watchdog: watchdog, scanner: scanner)
            } catch {
                logger.debug("socket.io protocol error; closing the session", metadata: ["sid": "\(engine.id)", "error": "\(error)"])
                engine.close(.protocolError)
                return
            }
        }
    }

    /// Tells the client why on the packet's namespace and closes the session; nothing of the
    /// packet is kept.
    private func refuseBinary(_ packet: SocketIOPacket, engine: EngineSocket) {
        let message = maxAttachments == 0
            ? "binary packets (BINARY_EVENT, BINARY_ACK) are not part of this server's protocol; send JSON arguments; the session is closed"
            : "a packet announced \(packet.expectedAttachments) binary attachments, over this server's limit of \(maxAttachments); the session is closed"
        logger.debug("socket.io binary packet refused; closing the session", metadata: ["sid": "\(engine.id)", "attachments": "\(packet.expectedAttachments)"])
        var data = JSONWriter()
        data.raw("{\"code\":")
        data.string(Self.binaryNotSupported.rawValue)
        data.raw("}")
        let refusal = SocketIOPacket.connectError(message, data: data.bytes, namespace: packet.namespace)
        engine.closeAfter([.text(refusal.encodeHeaderAndPayload())], reason: .protocolError)
    }

    private func dispatch(_ packet: SocketIOPacket, engine: EngineSocket, sockets: inout [String: SocketIOSocket], watchdog: Task<Void, any Error>, scanner: JSONScanner) async throws {
        switch packet.kind {
        case .connect:
            guard let namespace = namespaces[packet.namespace] else {
                try? await engine.send([.text(SocketIOPacket.connectError("Invalid namespace", namespace: packet.namespace).encodeHeaderAndPayload())])
                return
            }
            guard sockets[packet.namespace] == nil else { return }  // already connected there
            watchdog.cancel()
            let socket = SocketIOSocket(namespace: packet.namespace, auth: packet.payload, engine: engine)
            sockets[packet.namespace] = socket
            Task {
                await namespace.serve(socket)
                socket.finish()
            }
        case .disconnect:
            sockets.removeValue(forKey: packet.namespace)?.finish()
        case .event, .binaryEvent:
            guard let socket = sockets[packet.namespace] else { return }  // not connected there: ignored, like the reference server
            let arguments = try packet.arguments(scanner)
            let name = try Self.eventName(packet.payload, arguments[0])
            socket.deliver(SocketIOEvent(
                name: name,
                arguments: arguments.dropFirst().map { Array(packet.payload[$0]) },
                ackID: packet.ackID,
                attachments: packet.attachments
            ))
        case .ack, .binaryAck:
            break  // this server never asks clients for acknowledgements
        case .connectError:
            throw SocketIOProtocolError("clients do not send CONNECT_ERROR")
        }
    }

    private static func eventName(_ payload: [UInt8], _ range: Range<Int>) throws(SocketIOProtocolError) -> String {
        if payload[range.lowerBound] == UInt8(ascii: "\"") {
            do {
                return try JSONScanner.decodeString(payload, quoted: range)
            } catch {
                throw SocketIOProtocolError("the event name is not a readable string")
            }
        }
        return String(decoding: payload[range], as: UTF8.self)  // a numeric event name
    }
}
