public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// The request context of every Tether route: WebSocket upgrades are possible on any route, and
/// the peer's address is known (transports log it as `tether.remote`).
///
/// This module is the shared vocabulary of the HTTP-facing plugins (transports and exporters):
/// they register on a ``TetherRouter`` without depending on the server or on each other.
public struct TetherRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<TetherRequestContext>
    public let remoteAddress: SocketAddress?
    /// The connection the request came on: a transport may shape its pipeline while deciding an
    /// upgrade (the WebSocket transport adds its RFC 6455 frame checks).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// The peer's address without its port (the key of per-address limits and of the refusal
    /// log), or `unknown`.
    public var remoteHost: String { Self.host(of: remoteAddress) }

    /// What ``remoteHost`` is for a connection seen below the router (a handshake, a body deadline).
    public static func host(of address: SocketAddress?) -> String { address?.ipAddress ?? "unknown" }

    /// The peer as `host:port`, for logs and stats.
    public var remoteDescription: String {
        guard let address = remoteAddress else { return "unknown" }
        let host = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The router every HTTP-facing plugin registers on.
public typealias TetherRouter = Router<TetherRequestContext>
