import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import TetherRouting

/// How every accepted connection is set up, the same for a bound listener and for a socket
/// systemd passed in: TLS when configured, the handshake deadline, then HTTP/1.1 with the
/// WebSocket upgrade.
struct ConnectionChannelFactory: Sendable {
    var http: HTTP1WebSocketUpgradeChannel.Configuration
    var tls: TLSConfiguration?
    /// How long a new connection has to finish TLS and send its first request head.
    var handshakeTimeout: TimeAmount
    /// Told of each connection closed before its first request head: too slow, or TLS failed.
    var onHandshakeFailure: @Sendable (HandshakeFailure, SocketAddress?) -> Void
    /// Every connection set up here until it closes: graceful shutdown waits for them.
    let open = OpenConnections()

    func make(
        responder: @escaping HTTPChannelHandler.Responder,
        webSocketResponder: RouterResponder<TetherRequestContext>
    ) throws -> any ServerChildChannel {
        let http = HandshakeDeadlineChannel(
            base: TakeoverChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: Self.endingHandedOverConnections(responder), webSocketResponder: webSocketResponder, configuration: http),
                open: open
            ),
            timeout: handshakeTimeout,
            onFailure: onHandshakeFailure
        )
        guard let tls else { return http }
        return try TLSChannel(http, tlsConfiguration: tls)
    }
}

extension ConnectionChannelFactory {
    /// Ends Hummingbird's task for a connection whose route handed it to a channel handler
    /// (``ConnectionHandOver``; the SSE stream): after the request's responder returns, the
    /// connection is not Hummingbird's to read a next request from or to close.
    static func endingHandedOverConnections(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            do {
                try await responder(request, writer, channel)
            } catch {
                _ = ConnectionHandOver.takeHandOver(channel)
                throw error
            }
            if ConnectionHandOver.takeHandOver(channel) { throw ConnectionHandedOver() }
        }
    }
}

/// Wraps a child channel so a new connection that does not deliver its first request head within
/// `timeout` of being accepted is closed: Hummingbird's idle timeout starts only after the first head, so without
/// this a client trickling one header byte at a time (slowloris) would hold the connection open.
struct HandshakeDeadlineChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let timeout: TimeAmount
    let onFailure: @Sendable (HandshakeFailure, SocketAddress?) -> Void

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(HandshakeDeadlineHandler(timeout: timeout, onFailure: onFailure))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Offers each connection to a handler that drives its WebSocket from the event loop (see
/// `WebSocketTakeover`): when one claims it, the connection's task ends once the upgrade is done
/// instead of running Hummingbird's WebSocket handler for the connection's whole life; every
/// other connection is handled by Hummingbird as before.
///
/// Hummingbird publishes the upgrade's outcome only to its own `handle(value:logger:)`, in a
/// stored property of its channel value that is not public (`upgradeResult`). It is read here by
/// reflection. Should a Hummingbird release rename it, the lookup finds nothing and every
/// connection runs Hummingbird's handler as before (correct, only costlier); the native
/// transport's tests check that its connections are handed over, so CI says so.
///
/// A claimed connection outlives its task, so the server's task group no longer says when the
/// last connection has closed: every connection is tracked in ``OpenConnections`` instead, which
/// graceful shutdown waits for (``ServerUntilConnectionsClose``).
struct TakeoverChannel: ServerChildChannel {
    typealias Base = HTTP1WebSocketUpgradeChannel
    struct Value: ServerChildChannelValue {
        let base: Base.Value
        let takeover: NIOLoopBound<WebSocketTakeover>
        var channel: any Channel { base.channel }
    }

    let base: Base
    let open: OpenConnections

    /// A connection's receive buffer starts at 512 bytes instead of NIO's 2,048 and grows as reads
    /// fill it. The buffer is kept between reads for the connection's life, so at 10,000 idle
    /// subscribers the difference is 15 MB.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        open.track(channel)
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            let takeover = WebSocketTakeover()
            try channel.pipeline.syncOperations.addHandler(takeover)
            return Value(base: value, takeover: NIOLoopBound(takeover, eventLoop: channel.eventLoop))
        }
    }

    func handle(value: Value, logger: Logger) async {
        if let outcome = Mirror(reflecting: value.base).descendant("upgradeResult") as? EventLoopFuture<Base.UpgradeResult>,
           case .websocket(let asyncChannel, _, _)? = try? await outcome.get(),
           (try? await value.channel.eventLoop.submit({ value.takeover.value.claimed }).get()) == true {
            // The claimant keeps Hummingbird's wrapper of the channel alive (see keep(_:)); not
            // the rest of the outcome, whose handler closure holds the whole upgrade request.
            value.channel.eventLoop.execute { value.takeover.value.keep(asyncChannel) }
            return
        }
        await base.handle(value: value.base, logger: logger)
    }
}

/// Why a connection was closed before its first request head.
enum HandshakeFailure: Sendable {
    /// No complete request head within the deadline.
    case timeout
    /// The TLS handshake failed (plain HTTP to the TLS port, an unknown CA, a protocol error).
    case error(any Error)
}

/// Closes the channel unless the end of a request head (an empty line after a request line)
/// arrives before the deadline, which is fixed when the connection is accepted and never moves
/// (bytes trickled in do not extend it); then removes itself: later requests are bounded by the HTTP idle timeout, and
/// WebSocket frames never pass through it. The deadline starts when the connection is set up,
/// so it covers the TLS handshake too.
///
/// An error before the head (a failed TLS handshake) closes the connection here and is reported
/// through `onFailure` (counted, and logged once a minute per address), instead of travelling on
/// to be logged as an error per connection: a client speaking plain HTTP to the TLS port must
/// not be able to flood the log.
///
/// Ownership: event-loop bound, like every channel handler.
final class HandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let onFailure: @Sendable (HandshakeFailure, SocketAddress?) -> Void
    private var deadline: Scheduled<Void>?
    /// Whether a byte other than CR and LF arrived: the request line has begun. Empty lines
    /// before it are allowed (RFC 9112 §2.2) and skipped, so they cannot pass for the empty line
    /// that ends a head; they used to, and a client sending `\r\n\r\n` first was let off the
    /// deadline before Hummingbird's idle timer existed (it starts with the first decoded head),
    /// free to trickle a request line forever.
    private var requestLineStarted = false
    /// Whether the last byte that was not `\r` was `\n` after the request line began: a second
    /// `\n` then ends the head.
    private var atLineStart = false
    private var headComplete = false

    init(timeout: TimeAmount, onFailure: @escaping @Sendable (HandshakeFailure, SocketAddress?) -> Void) {
        self.timeout = timeout
        self.onFailure = onFailure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let onFailure = onFailure
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            onFailure(.timeout, bound.value.channel.remoteAddress)
            Self.endBeforeHead(bound.value)
        }
    }

    /// Ends the connection as if the client had hung up: the HTTP upgrade handler then finishes
    /// quietly (Hummingbird logs a server-side close before the first head as an error).
    private static func endBeforeHead(_ context: ChannelHandlerContext) {
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !headComplete {
            let buffer = unwrapInboundIn(data)
            headComplete = buffer.readableBytesView.contains { byte in
                switch byte {
                case UInt8(ascii: "\n"):
                    if atLineStart { return true }
                    atLineStart = requestLineStarted
                case UInt8(ascii: "\r"):
                    break
                default:
                    requestLineStarted = true
                    atLineStart = false
                }
                return false
            }
        }
        context.fireChannelRead(data)
        if headComplete {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !headComplete else {
            context.fireErrorCaught(error)
            return
        }
        deadline?.cancel()
        deadline = nil
        onFailure(.error(error), context.channel.remoteAddress)
        Self.endBeforeHead(context)
    }
}
