import NIOCore

/// The one producer of a run: publishes events `0..<events` on one connection, at most `window`
/// unconfirmed at a time (MQTT PUBACK, JetStream PubAck, Tether `published`), as fast as they are
/// confirmed or at `rate` events per second. Confined to its connection's event loop.
final class Producer: @unchecked Sendable {
    private let client: PeerClient
    private let events: Int
    private let window: Int
    private let rate: Double?
    private var next = 0
    private var confirmed = 0
    private var startMicros: Int64 = 0
    private var ticker: RepeatedTask?
    let done: EventLoopPromise<Void>
    private(set) var errors: [String] = []

    static let window = 256

    init(client: PeerClient, events: Int, rate: Double?) {
        self.client = client
        self.events = events
        self.window = Self.window
        self.rate = rate
        done = client.loop.makePromise()
        client.onConfirm = { [unowned self] in self.confirm() }
        client.onError = { [unowned self] message in if self.errors.count < 5 { self.errors.append(message) } }
    }

    /// Call on the loop; `done` succeeds when every event is confirmed, fails after `timeout`.
    func start(timeout: TimeAmount) {
        startMicros = Clock.micros()
        if rate != nil {
            ticker = client.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { [unowned self] _ in self.pump() }
        } else {
            pump()
        }
        client.loop.scheduleTask(in: timeout) { [self] in
            ticker?.cancel()
            done.fail(PeerError("the producer had \(confirmed) of \(events) publishes confirmed when it timed out; \(errors)"))
        }
    }

    private func confirm() {
        confirmed += 1
        if confirmed == events {
            ticker?.cancel()
            done.succeed()
        } else if rate == nil {
            pump(flush: false)  // the client flushes once the socket read that held the confirm ends
        }
    }

    private func pump(flush: Bool = true) {
        var due = events
        if let rate { due = min(events, Int(Double(Clock.micros() - startMicros) / 1_000_000 * rate) + 1) }
        while next < due, next - confirmed < window {
            client.publish(Payload.make(n: next))
            next += 1
        }
        if flush { client.flush() }
    }
}
