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
struct SocketIOServer: Sendable {
    var namespaces: [String: any SocketIONamespace]
    /// Milliseconds a new session may go without connecting to a namespace before it is closed.
    var connectTimeout: Int
    var logger: Logger

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
