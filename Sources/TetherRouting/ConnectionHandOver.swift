public import NIOCore
import Synchronization

/// Lets a route hand its connection to a channel handler that serves it from the event loop from
/// then on (the SSE transport's stream), so that Hummingbird's task for the connection ends
/// instead of waiting, with every allocation slab it ever used, for a next request that will not
/// come (issue 16: an idle stream should cost its buffers, not a task).
///
/// The route's handler calls ``handOver(_:)`` once the channel handler that takes over is in the
/// pipeline; when the request's responder returns, the server's wrapper around it
/// (`ConnectionChannelFactory`) calls ``takeHandOver(_:)`` and, for a connection that was handed
/// over, ends the connection's task by throwing ``ConnectionHandedOver``. Hummingbird then closes
/// the connection's `NIOAsyncChannel` without waiting for the socket to close. The handler that
/// took over must therefore:
/// - keep the socket open: let pass no `close` from behind it while it owns the connection
///   (Hummingbird half-closes the output, then closes);
/// - drop what the client sends from then on, and ask for reads itself (`context.read()`): the
///   `NIOAsyncChannel`'s handler may pass no read request on once its inbound stream has ended,
///   and without reads a hang-up goes unseen;
/// - close the connection itself when it is done.
///
/// Ownership: a process-wide set of the channels handed over whose responder has not returned
/// yet, behind its own lock; an entry lives from the route's hand-over to the responder's return.
public enum ConnectionHandOver {
    private static let pending = Mutex<Set<ObjectIdentifier>>([])

    /// Says that `channel` is owned by a handler in its pipeline from now on.
    public static func handOver(_ channel: any Channel) {
        _ = pending.withLock { $0.insert(ObjectIdentifier(channel)) }
    }

    /// Whether `channel` was handed over during the request just answered; forgets it.
    public static func takeHandOver(_ channel: any Channel) -> Bool {
        pending.withLock { $0.remove(ObjectIdentifier(channel)) != nil }
    }
}

/// Thrown by the server's responder wrapper to end Hummingbird's task for a connection whose
/// route handed it over (``ConnectionHandOver``). Hummingbird logs it at trace level only.
public struct ConnectionHandedOver: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the connection was handed over to a channel handler (not an error)" }
}
