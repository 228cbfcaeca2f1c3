import Hummingbird
import NIOCore
import TetherCore

/// Who may open an Engine.IO session, decided from the handshake request alone, before any
/// session state (id, queue, heartbeat, tasks) exists: a refused handshake costs the relay
/// nothing beyond the request itself.
///
/// An admitted session holds the returned ``ConnectionTicket`` for its life and gives it back
/// when it closes.
struct EngineAdmission: Sendable {
    /// The slot a new session from `address` takes, given its handshake `request`; throws the
    /// refusal (a connection limit, or a bad token the request carried).
    var admit: @Sendable (_ request: Request, _ address: String) throws(RelayError) -> ConnectionTicket
    /// Text messages that tell a client on a refused WebSocket handshake why, after a
    /// session-less `open` packet (the layer above's way to say it: Socket.IO's CONNECT_ERROR).
    var refusalMessages: @Sendable (RelayError) -> [[UInt8]]

    /// The HTTP status of a refused polling handshake.
    static func status(for code: RelayError.Code) -> HTTPResponse.Status {
        switch code {
        case .unauthorized: .unauthorized
        case .forbidden, .originNotAllowed: .forbidden
        case .tooManyConnections, .rateLimited: .tooManyRequests
        case .serverBusy, .shuttingDown: .serviceUnavailable
        default: .badRequest
        }
    }

    /// A refused polling handshake: the relay's JSON error body, plus `message` and `data.code`
    /// at the top level, which Socket.IO clients hand to their `connect_error` handler as they
    /// would a CONNECT_ERROR's payload.
    static func refusal(_ error: RelayError) -> Response {
        var writer = JSONWriter()
        writer.raw("{\"error\":")
        writer.error(code: error.code, message: error.message)
        writer.raw(",\"message\":")
        writer.string(error.message)
        writer.raw(",\"data\":{\"code\":")
        writer.string(error.code.rawValue)
        writer.raw("}}")
        return Response(
            status: status(for: error.code),
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes))
        )
    }
}
