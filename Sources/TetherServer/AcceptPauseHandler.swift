import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Stops a listening socket from spinning when `accept` fails with a resource error (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`), typically at the file-descriptor limit.
///
/// NIO keeps such a listener open and puts an `AcceptBackoffHandler` in its pipeline, but that
/// handler only delays the next `read()`; after a failed `accept` NIO's read stays pending and
/// the socket stays registered for readability, so a level-triggered epoll wakes it at once and
/// `accept` fails again, tens of thousands of times a second (a full core, measured: 66,000
/// `accept4` → `EMFILE` in 3 s). This handler, first in the listener's pipeline, turns
/// `autoRead` off on such an error, which removes the readability interest, and turns it back
/// on after a backoff (50 ms, doubling to 1 s while the errors go on, back to 50 ms after an
/// accept succeeds). Connections wait in the kernel's backlog meanwhile; once descriptors are
/// free they are accepted again, `/healthz` included.
///
/// Ownership: event-loop bound, like every channel handler.
final class AcceptPauseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    static let firstBackoff = TimeAmount.milliseconds(50)
    static let longestBackoff = TimeAmount.seconds(1)

    private var backoff = firstBackoff
    private var resume: Scheduled<Void>?
    /// Told once per pause, with the error and the pause.
    private let onPause: @Sendable (IOError, TimeAmount) -> Void

    init(onPause: @escaping @Sendable (IOError, TimeAmount) -> Void) {
        self.onPause = onPause
    }

    /// Puts a new handler first in the pipeline of `listener`, a server channel.
    static func install(on listener: any Channel, onPause: @escaping @Sendable (IOError, TimeAmount) -> Void) async throws {
        try await listener.eventLoop.submit {
            try listener.pipeline.syncOperations.addHandler(AcceptPauseHandler(onPause: onPause), position: .first)
        }.get()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        backoff = Self.firstBackoff
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, Self.isResourceError(error.errnoCode), resume == nil,
           let options = context.channel.syncOptions {
            try? options.setOption(ChannelOptions.autoRead, value: false)
            onPause(error, backoff)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            resume = context.eventLoop.scheduleTask(in: backoff) {
                let (handler, context) = bound.value
                handler.resume = nil
                try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
            backoff = min(backoff * 2, Self.longestBackoff)
        }
        context.fireErrorCaught(error)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
    }

    /// What the relay logs (at most once a minute) when accepting fails with `code`: what is
    /// exhausted, what happens to new connections meanwhile, and what to change.
    static func warning(errno code: Int32, limit: FileDescriptorLimit?) -> String {
        let waiting = "new connections wait in the listen backlog and are accepted as descriptors free up (logged at most once a minute; tether_refused_total{reason=\"fd_limit\"} counts every pause)"
        switch code {
        case EMFILE:
            return "cannot accept connections: the relay is at its open-file limit (RLIMIT_NOFILE \(limit?.description ?? "unknown")), one descriptor per connection; \(waiting). Raise LimitNOFILE= in the unit (or ulimit -n), or lower limits.max-connections"
        case ENFILE:
            return "cannot accept connections: the system-wide open-file table is full (ENFILE, sysctl fs.file-max); \(waiting). Find what holds so many files (lsof), or raise fs.file-max"
        default:
            return "cannot accept connections: the kernel is short of memory for sockets (\(String(cString: strerror(code)))); \(waiting). Free memory, or lower limits.max-connections"
        }
    }

    static func isResourceError(_ code: Int32) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }
}
