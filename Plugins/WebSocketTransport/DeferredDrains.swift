import NIOCore

/// The drains a loop holds back under `transport.websocket.write-delay`: a connection woken less
/// than the delay after its last drain joins this batch instead of draining at once, and the
/// whole batch drains together one delay after its first member joined. So at most one write
/// per connection per delay while events keep coming, each held back at most the delay, and one
/// timer per loop rather than one per connection. A connection woken after a quiet spell longer
/// than the delay drains at once, as without a delay.
///
/// Ownership: one instance per event loop and delay, made and used on that loop only.
final class DeferredDrains {
    let delay: TimeAmount
    private let loop: any EventLoop
    private var pending: [WebSocketConnectionHandler] = []
    private var timer: Scheduled<Void>?

    private init(loop: any EventLoop, delay: TimeAmount) {
        self.loop = loop
        self.delay = delay
    }

    /// One batch per loop and delay.
    private static let registry = PerLoop<DeferredDrains>()

    /// The batch of `loop` for `delay`; call on `loop`.
    static func of(_ loop: any EventLoop, delay: TimeAmount) -> DeferredDrains {
        registry.value(on: loop, setting: delay.nanoseconds) { DeferredDrains(loop: loop, delay: delay) }
    }

    /// Holds `connection`'s drain for the batch (it has marked its drain scheduled, so it joins
    /// once per batch).
    func add(_ connection: WebSocketConnectionHandler) {
        pending.append(connection)
        guard timer == nil else { return }
        timer = loop.assumeIsolated().scheduleTask(in: delay) { [self] in
            timer = nil
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            for connection in batch { connection.runScheduledDrain() }
        }
    }
}
