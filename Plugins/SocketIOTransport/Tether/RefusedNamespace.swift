import TetherCore

/// What every namespace becomes on a session the relay refused to admit (a connection limit):
/// the client's CONNECT is answered with CONNECT_ERROR carrying the relay's error (`message`, and
/// `data.code` such as `too_many_connections` or `server_busy`), so a Socket.IO client's
/// `connect_error` handler learns why, and then the whole session is closed, so a refused
/// client cannot hold an uncounted session open.
struct RefusedNamespace: SocketIONamespace {
    let error: RelayError

    func serve(_ socket: SocketIOSocket) async {
        try? await socket.engine.send(
            [.text(SocketIOPacket.connectError(error.message, data: TetherNamespace.errorData(error), namespace: socket.namespace).encodeHeaderAndPayload())],
            untilWritten: true
        )
        socket.engine.close(.serverClosed)
    }
}

extension SocketIOServer {
    /// This server with every namespace refusing with `error`.
    func refusing(_ error: RelayError) -> SocketIOServer {
        var server = self
        server.namespaces = namespaces.mapValues { _ in RefusedNamespace(error: error) }
        return server
    }
}
