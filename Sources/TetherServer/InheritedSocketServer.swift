import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import TetherRouting
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Serves the router on a listening socket the process inherited (systemd socket activation),
/// with the same connection set-up as the bound server (``ConnectionChannelFactory``).
///
/// Hummingbird 2's `BindAddress` takes a host and port or a unix path only, so this is the small
/// part of `Application.run` and `Server` that a bound descriptor needs: NIO's
/// `ServerBootstrap.bind(_ socket:)`, one task per connection, and quiescing on graceful shutdown
/// (stop accepting; each connection closes after its current request).
struct InheritedSocketServer: Service {
    let responder: RouterResponder<TetherRequestContext>
    let connections: ConnectionChannelFactory
    let socket: Int32
    let serverName: String
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    init(router: TetherRouter, connections: ConnectionChannelFactory, socket: Int32, serverName: String, onServerRunning: @escaping @Sendable (any Channel) async -> Void, logger: Logger) {
        self.responder = router.buildResponder()
        self.connections = connections
        self.socket = socket
        self.serverName = serverName
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    func run() async throws {
        let (logger, serverName, responder) = (logger, serverName, responder)
        let childChannel = try connections.make(
            responder: { (request: Request, writer: consuming ResponseWriter, channel: any Channel) in
                let context = TetherRequestContext(source: .init(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch {
                    logger.debug("unhandled error", metadata: ["error": "\(error)"])
                    response = Response(status: .internalServerError)
                }
                response.headers[.server] = serverName
                try await writer.write(response: response.head, body: response.body)
            },
            webSocketResponder: responder
        )
        try await serve(childChannel)
    }

    /// Accepts on the inherited socket until graceful shutdown, one task per connection.
    private func serve<Child: ServerChildChannel>(_ childChannel: Child) async throws {
        let logger = logger
        let serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(socket, serverBackPressureStrategy: nil) { channel in
                childChannel.setup(channel: channel, logger: logger)
            }
        await onServerRunning(serverChannel.channel)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await serverChannel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await childChannel.handle(value: connection, logger: logger) }
                        }
                    }
                } catch {
                    logger.error("accepting connections on the inherited socket failed", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: { [connections] in
            serverChannel.channel.close(promise: nil)
            connections.open.quiesceAll()
        }
    }
}

extension InheritedSocketServer {
    /// The address `socket` is bound to, as text (`0.0.0.0`, `::`, `192.0.2.10`); `nil` if it is
    /// not an IP socket. The Host check needs it: with socket activation `listen` is not used.
    static func localHost(of socket: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let written: UnsafePointer<CChar>?
        switch Int32(storage.ss_family) {
        case AF_INET:
            var bytes = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }.sin_addr
            written = inet_ntop(AF_INET, &bytes, &text, socklen_t(text.count))
        case AF_INET6:
            var bytes = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }.sin6_addr
            written = inet_ntop(AF_INET6, &bytes, &text, socklen_t(text.count))
        default:
            written = nil
        }
        guard written != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
