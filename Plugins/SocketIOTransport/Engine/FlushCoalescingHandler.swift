import NIOCore

/// Collapses the flushes asked for within one turn of the event loop into one, at the end of
/// that turn, so the Engine.IO packets of one wake leave in one write (issue 16).
///
/// An Engine.IO packet over a WebSocket is a frame of its own. WSCore's writer hands each frame
/// to the channel as a separate write followed by a flush, which cost one system call per event
/// for every subscriber (measured: half of the relay's CPU at 1 → 10 went to those writes).
/// Events now go out from the session's writer job (EngineSocket+WebSocket.swift), one flush per
/// job; this handler still merges the flushes of several jobs, and of WSCore's own writes
/// (the handshake, pongs), that reach the loop in one turn, so they leave in one `writev`. Each
/// is still its own frame. Nothing waits longer than the loop turn it arrived in. It also tells
/// the session when the channel is writable again (`onWritable`), so that packets held back
/// while the client was not reading go out.
///
/// A close flushes first, so nothing written before it is lost. Added at the head end of the
/// pipeline while a Socket.IO WebSocket upgrade is decided; it stays for the connection's life.
///
/// Ownership: a channel handler, confined to its channel's event loop.
final class FlushCoalescingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private var flushPending = false
    /// Called when the channel becomes writable again (set by ``EngineSocket/attach(_:)``).
    var onWritable: (@Sendable () -> Void)?

    /// Adds a coalescer to `channel` (at most one), from any thread.
    static func add(to channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            let pipeline = channel.pipeline.syncOperations
            guard (try? pipeline.handler(type: FlushCoalescingHandler.self)) == nil else { return }
            try pipeline.addHandler(FlushCoalescingHandler(), position: .first)
        }.get()
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute { [self] in
            guard flushPending else { return }
            flushPending = false
            context.flush()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushPending = false  // the channel is gone: the pending flush has nothing to do
        onWritable = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { onWritable?() }
        context.fireChannelWritabilityChanged()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
