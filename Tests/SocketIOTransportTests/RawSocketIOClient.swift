import Testing
import TetherTesting

/// A Socket.IO client over a raw WebSocket, for tests that count what the relay writes: upgraded
/// to Engine.IO's WebSocket transport and connected to the `/` namespace (its
/// `connection_established` received), so what arrives next is live delivery.
enum RawSocketIOClient {
    static func connected(to relay: RelayProcess) async throws -> RawTCPConnection {
        let socket = try RawTCPConnection(port: relay.port)
        try await socket.send(RawTCPConnection.webSocketUpgrade("/socket.io/?EIO=4&transport=websocket", port: relay.port))
        let (opening, _) = await socket.read { String(decoding: $0, as: UTF8.self).contains(#""sid""#) }
        try #require(String(decoding: opening, as: UTF8.self).hasPrefix("HTTP/1.1 101"), "\(String(decoding: opening, as: UTF8.self))")
        try await socket.send(RawTCPConnection.webSocketFrame(Array("40".utf8)))
        let (joined, _) = await socket.read { String(decoding: $0, as: UTF8.self).contains("connection_established") }
        try #require(String(decoding: joined, as: UTF8.self).contains("connection_established"), "\(String(decoding: joined, as: UTF8.self))")
        return socket
    }
}
