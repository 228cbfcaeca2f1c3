import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Applies ``FrameRules`` to every frame of an upgraded connection, right after NIO's frame
/// decoder and before the ``WebSocketConnectionHandler``, which answers pings and close frames
/// and assembles data frames into messages.
///
/// The first frame that breaks a rule is dropped, and so is everything after it; the violation
/// travels down the pipeline as an error, behind the frames that came before it, and the
/// connection's reader answers it with an `error` frame and close code 1002 (1007 for a close
/// reason that is not UTF-8). NIO's decoder refuses fragmented and over-long control frames
/// before they are frames at all; those errors become the same violations here, so every
/// framing error gets the same answer.
///
/// Ownership: a channel handler, confined to its channel's event loop.
final class FrameRulesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private var rules = FrameRules()
    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        if let violation = rules.check(unwrapInboundIn(data)) {
            fail(context, violation)
            return
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .fragmentedControlFrame?:
            guard !failed else { return }
            fail(context, .framing("control frames must not be fragmented (RFC 6455 §5.5)"))
        case .multiByteControlFrameLength?:
            guard !failed else { return }
            fail(context, .framing("a control frame over 125 bytes (RFC 6455 §5.5)"))
        default:
            // A frame over the decoder's ceiling stays NIO's to answer (close 1009).
            context.fireErrorCaught(error)
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ violation: FrameRules.Violation) {
        failed = true
        context.fireErrorCaught(violation)
    }
}

/// Puts a ``FrameRulesHandler`` and the connection's ``WebSocketConnectionHandler`` into a
/// connection's pipeline at the moment it becomes a WebSocket: added at the end of the HTTP
/// pipeline while the upgrade is being decided, it waits for NIO's upgrade handler to announce
/// completion, which that handler does after adding the frame decoder and before releasing any
/// bytes the client sent after its request. So no frame reaches the connection unchecked, even
/// one sent in the same packet as the upgrade request.
///
/// Ownership: a channel handler, confined to its channel's event loop.
final class FrameRulesInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let logger: Logger
    /// Makes the connection's handler, on the loop, once the upgrade is complete.
    private let connection: @Sendable () -> WebSocketConnectionHandler

    init(logger: Logger, connection: @escaping @Sendable () -> WebSocketConnectionHandler) {
        self.logger = logger
        self.connection = connection
    }

    /// Adds an installer to `channel` (at most one), from any thread; completes once it is in
    /// place. Called while the route decides an upgrade, which also happens for a plain `GET` of
    /// the path on an HTTP connection; there the installer sees the next request pass and leaves.
    static func add(to channel: any Channel, logger: Logger, connection: @escaping @Sendable () -> WebSocketConnectionHandler) async throws {
        try await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            guard (try? pipeline.handler(type: FrameRulesInstaller.self)) == nil else { return }
            try pipeline.addHandler(FrameRulesInstaller(logger: logger, connection: connection))
        }.get()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // During an upgrade NIO's upgrade handler holds every byte back until the event below,
        // so a read here means this connection stays HTTP.
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .upgradeComplete? = event as? HTTPServerUpgradeEvents else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let pipeline = context.pipeline.syncOperations
        do {
            let decoder = try pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
            let rules = FrameRulesHandler()
            try pipeline.addHandler(rules, position: .after(decoder))
            try pipeline.addHandler(connection(), position: .after(rules))
        } catch {
            // Without the rules the relay would take frames RFC 6455 forbids; refuse instead.
            logger.error("WebSocket connection handlers could not be installed; closing the connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
        pipeline.removeHandler(context: context, promise: nil)
    }
}
