public import NIOCore
import NIOHTTP1
import Synchronization

/// Lets a WebSocket connection that is driven entirely by a channel handler on its event loop
/// (the native transport's) end the task Hummingbird would otherwise keep for it until it
/// closes, with WSCore's reader, writer and their buffers inside (issue 16: an idle connection
/// should cost its buffers, not a task).
///
/// The server puts one in every new connection's pipeline. A handler that drives the upgraded
/// connection itself calls ``claim()`` when it is added (during the upgrade, before the upgrade's
/// outcome is published); the server's task for the connection then returns as soon as it sees
/// the upgrade done, instead of running Hummingbird's WebSocket handler. Every other connection
/// (plain HTTP, a refused upgrade, a Socket.IO WebSocket served by WSCore) is handled by
/// Hummingbird as before. The takeover leaves the pipeline at the first request's data or once
/// an upgrade is complete.
///
/// A claimant owns what Hummingbird set up for the connection: its `NIOAsyncChannel` wrapper,
/// whose handlers stay in the pipeline and must stay alive (once its inbound stream is dropped it
/// stops passing reads on, and once its writer is dropped it half-closes the socket). The server
/// parks it with ``keep(_:)``, and the claimant lets go with ``release()`` when the connection ends.
///
/// Ownership: a channel handler, confined to its channel's event loop.
public final class WebSocketTakeover: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    /// Whether a handler claimed the connection.
    public private(set) var claimed = false
    private var context: ChannelHandlerContext?
    /// What Hummingbird made for the connection, kept as long as the claimant keeps this.
    private var kept: (any Sendable)?

    /// Connections claimed in this process (tests check that the native transport's are).
    public static var claims: Int { claimCount.load(ordering: .relaxed) }
    private static let claimCount = Atomic<Int>(0)

    public init() {}

    /// Called by a handler that drives the connection itself, when it is added.
    public func claim() {
        guard !claimed else { return }
        claimed = true
        Self.claimCount.add(1, ordering: .relaxed)
    }

    /// Parks what Hummingbird made for a claimed connection with this takeover, whose claimant
    /// holds it until the connection ends.
    public func keep(_ value: any Sendable) {
        kept = value
    }

    /// Lets go of what ``keep(_:)`` parked; the claimant calls it when the connection ends.
    public func release() {
        kept = nil
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    private func leave() {
        guard let context else { return }
        self.context = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The connection stays HTTP (an upgrade holds every byte back until its handlers are in
        // place), so nothing is left to claim. Passed on first: leaving ends this context.
        context.fireChannelRead(data)
        leave()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .upgradeComplete? = event as? HTTPServerUpgradeEvents {
            // A claimant is added while this event travels on: leave just after it has.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.leave() }
        }
        context.fireUserInboundEventTriggered(event)
    }
}
