import DequeModule
import NIOCore

/// When each streaming connection on one event loop gets the relay's next JSON `ping`: one timer
/// per loop and ping interval, not one per connection (issue 16: idle connections should cost no
/// CPU between pings).
///
/// With a timer per connection, 10,000 idle subscribers pinged every 10 s meant 1,000 timer
/// wake-ups a second, each re-sorting NIO's heap of 10,000 scheduled tasks: measured, that heap
/// work alone was a fifth of the relay's idle CPU. Here every connection of a loop shares one
/// interval, so a first-in, first-out queue is already in due order (a connection re-queued after
/// its ping is due last). The loop wakes when the oldest entry is due and pings every connection
/// due within the next ``slack`` as well (at most a twentieth of the interval, at most 0.5 s), so
/// the pings, and the pongs that answer them, come in bursts of many connections per wake-up
/// rather than one.
///
/// A connection that ends is not searched for: its entry is skipped when it comes up (it holds
/// the handler weakly, so the handler is not kept alive for it).
///
/// Ownership: one instance per event loop and interval, made and used on that loop only.
final class PingSchedule {
    private struct Entry {
        weak var connection: WebSocketConnectionHandler?
        var due: NIODeadline
    }

    let interval: TimeAmount
    let slack: TimeAmount
    private let loop: any EventLoop
    private var queue: Deque<Entry> = []
    private var timer: Scheduled<Void>?
    private var timerDue: NIODeadline?

    private init(loop: any EventLoop, interval: TimeAmount) {
        self.loop = loop
        self.interval = interval
        slack = .nanoseconds(min(interval.nanoseconds / 20, TimeAmount.milliseconds(500).nanoseconds))
    }

    /// One schedule per loop and interval (a schedule with nothing queued holds no timer).
    private static let registry = PerLoop<PingSchedule>()

    /// The schedule of `loop` for pings every `interval`; call on `loop`.
    static func of(_ loop: any EventLoop, interval: TimeAmount) -> PingSchedule {
        registry.value(on: loop, setting: interval.nanoseconds) { PingSchedule(loop: loop, interval: interval) }
    }

    /// Queues `connection`'s next ping one interval from now.
    func add(_ connection: WebSocketConnectionHandler) {
        queue.append(Entry(connection: connection, due: .now() + interval))
        arm()
    }

    /// How many entries are queued, ended connections included until they come up (tests).
    var queued: Int { queue.count }

    private func arm() {
        guard let head = queue.first else { return }
        if let timerDue, timerDue <= head.due { return }
        timer?.cancel()
        timerDue = head.due
        timer = loop.assumeIsolated().scheduleTask(deadline: head.due) { [self] in
            timer = nil
            timerDue = nil
            fire()
        }
    }

    private func fire() {
        let now = NIODeadline.now()
        let horizon = now + slack
        while let head = queue.first, head.due <= horizon {
            queue.removeFirst()
            guard let connection = head.connection, connection.ping() else { continue }
            queue.append(Entry(connection: connection, due: now + interval))
        }
        arm()
    }
}
