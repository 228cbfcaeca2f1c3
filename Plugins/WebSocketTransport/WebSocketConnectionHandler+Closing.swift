import Logging
import NIOCore
import NIOWebSocket
import TetherCore

/// Sending frames, and the one error frame and close code that end a connection.
extension WebSocketConnectionHandler {
    /// How long the client has to answer this relay's close frame before the socket is closed.
    /// Short: the close says the connection failed, and a client that does not answer (a hostile
    /// one, one that is gone) must not hold its slot.
    static let closeDeadline = TimeAmount.seconds(1)

    /// Writes one text frame (nothing once a close frame went out); flushes unless told not to.
    func send(_ bytes: [UInt8], flush: Bool = true) {
        guard !closeSent else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(bytes: bytes))
        if flush {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        } else {
            context.write(wrapOutboundOut(frame), promise: nil)
        }
    }

    /// Sends the error frame and the close code it maps to, once; counts client-caused errors.
    func fail(_ error: RelayError) {
        guard !closeSent else { return }
        let code = WebSocketCloseCode.closing(error.code)
        // Client-caused: the close-code table says the same request would not succeed again
        // (anything but a plain reconnect), or the client said nothing in time.
        if error.code != .superseded, code.rule.action != .reconnect || error.code == .helloTimeout { relay.counters.countRefused(error.code) }
        logger.debug("closing WebSocket", metadata: ["code": "\(code)", "error": "\(error)"])
        sendClose(code: Int(code.code), reason: error.code.rawValue, after: RelayFrame.error(error, close: code), because: "\(error.code): \(error.message)")
    }

    /// Writes `frame` (the error that says why), then a close frame, and ends the session at
    /// once; the socket closes when the client answers the close, or after ``closeDeadline``.
    func sendClose(code: Int, reason: String, after frame: [UInt8]?, because why: String) {
        guard !closeSent else { return }
        if let frame { send(frame, flush: false) }
        closeSent = true
        endReason = endReason ?? why
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: WebSocketErrorCode(codeNumber: code))
        data.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        if case .streaming(let session) = phase { session.close(reason: endReason ?? why) }
        phase = .closing
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeDeadline) { [self] in
            context.close(promise: nil)
        }
    }

    /// Graceful shutdown (the server's `ChannelShouldQuiesceEvent`): close code 1000, and the
    /// usual ``closeDeadline`` for the client's answer.
    func shutDown() {
        sendClose(code: 1000, reason: "", after: nil, because: "the relay is shutting down (the client was sent close code 1000, normal closure)")
    }

    /// The client's close frame: the answer to this handler's close (the handshake is complete),
    /// or the client leaving, which is answered with close 1000 (RFC 6455 §5.5.1) before the
    /// socket closes. ``FrameRulesHandler`` has refused close payloads that break the rules.
    func receivedClose() {
        guard !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        endReason = endReason ?? "the client closed the connection"
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in context.close(promise: nil) }
    }

    /// A WebSocket ping from the client: a pong with the same payload (RFC 6455 §5.5.3), unless
    /// the connection is closing.
    func answerPing(_ frame: WebSocketFrame) {
        guard !closeSent else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
    }

    /// Frames written by a layer after this one. With the connection claimed there is none; if
    /// the server did not offer a takeover, WSCore still runs behind this handler and writes its
    /// close 1000 on graceful shutdown, which this handler has sent already: one close frame per
    /// connection.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose, closeSent {
            promise?.succeed()
            return
        }
        context.write(data, promise: promise)
    }
}
