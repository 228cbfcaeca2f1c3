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
    func sendClose(code: Int, reason: String, after frame: [UInt8], because why: String) {
        guard !closeSent else { return }
        send(frame, flush: false)
        closeSent = true
        closedHere = true
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

    /// Frames WSCore writes: its pings and pongs, and its close frame: code 1000 on graceful
    /// shutdown, 1001 when the client left its WebSocket pings unanswered for two periods. After
    /// a close this handler sends nothing more.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if frame.opcode == .connectionClose {
            guard !closeSent else {
                // This handler already closed: one close frame per connection.
                promise?.succeed()
                return
            }
            closeSent = true
            var payload = frame.data
            let code = payload.readWebSocketErrorCode()
            endReason = endReason ?? (code == .normalClosure
                ? "the relay is shutting down (the client was sent close code 1000, normal closure)"
                : "the client did not answer WebSocket pings (sent close \(code.map { String(describing: $0) } ?? "without a code"))")
        }
        context.write(data, promise: promise)
    }
}
