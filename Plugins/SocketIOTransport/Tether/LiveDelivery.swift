import NIOCore
import Synchronization
import TetherCore

/// Live delivery of one session's events to a Socket.IO socket, driven from the Engine.IO
/// session's event loop instead of a task: the fan-out's wake schedules a drain, which polls the
/// session while the Engine.IO queue is under its high-water mark and queues one `claude_event`
/// packet per event (an `event_gap` before the events that follow a gap). Over WebSocket, the
/// session's writer job then writes the drain's packets with one flush; polling clients take them
/// with their next `GET`. A wake is a scheduled job, not a switch to a delivery task and from
/// there to a writer task (issue 16), and an idle socket holds no task for its delivery.
///
/// Backpressure is the queue's high-water mark (``EngineSocket/whenRoom(_:)``) plus the session's
/// in-flight window, as with the task that this replaces: an event counts as acknowledged once it
/// is queued (see ``TetherNamespace``).
///
/// Ownership: every stored `var` is confined to `loop` (the object is made there by
/// ``start(session:socket:pending:offsetEpoch:)`` and only touched in jobs on it); others
/// reach it through `NIOLoopBound`. Stopping it, and why it ended, go through its ``Control``.
final class LiveDelivery {
    /// Polls per drain before the loop is given back to other connections.
    static let pollsPerDrain = 16

    private let session: Session
    private let socket: SocketIOSocket
    private let loop: any EventLoop
    private let message: EventMessage
    private let control: Control

    /// The events of one poll. No capacity up front (a window's worth is 16 KB, which an idle
    /// subscriber never uses): it grows with the largest poll and is kept from poll to poll.
    private var events: [Event] = []
    private var drainScheduled = false
    private var storeReading = false
    /// The fan-out's and the queue's wake: a drain on this loop. Made once.
    private var wake: (@Sendable () -> Void)?

    /// What the namespace's task holds of a running delivery: a way to stop it, and why it ended.
    final class Control: Sendable {
        private let state = Mutex<(stopped: Bool, reason: String?)>((false, nil))

        /// Why delivery ended by itself (nil while it runs, or when it was cancelled).
        var reason: String? { state.withLock { $0.reason } }
        var isStopped: Bool { state.withLock { $0.stopped } }

        /// Stops delivery; later wakes queue nothing. Idempotent.
        func cancel() { state.withLock { $0.stopped = true } }

        /// Stops delivery with `reason`, unless it was stopped already. Returns whether it was running.
        fileprivate func finish(_ reason: String) -> Bool {
            state.withLock { state in
                guard !state.stopped else { return false }
                state = (true, reason)
                return true
            }
        }
    }

    private init(session: Session, socket: SocketIOSocket, loop: any EventLoop, offsetEpoch: Epoch?, control: Control) {
        self.session = session
        self.socket = socket
        self.loop = loop
        self.message = EventMessage(offsetEpoch: offsetEpoch, namespace: socket.namespace)
        self.control = control
    }

    /// Starts delivering on the Engine.IO session's loop, `pending` first.
    static func start(session: Session, socket: SocketIOSocket, pending: [Event], offsetEpoch: Epoch?) -> Control {
        let loop = socket.engine.loop
        let control = Control()
        loop.execute {
            let delivery = LiveDelivery(session: session, socket: socket, loop: loop, offsetEpoch: offsetEpoch, control: control)
            let bound = NIOLoopBound(delivery, eventLoop: loop)
            delivery.wake = { loop.execute { bound.value.runScheduledDrain() } }
            guard delivery.queue(pending) else { return }
            delivery.drain()
        }
        return control
    }

    private func scheduleDrain() {
        guard !drainScheduled else { return }
        drainScheduled = true
        wake?()
    }

    private func runScheduledDrain() {
        drainScheduled = false
        drain()
    }

    /// Queues what the session has for the client while the Engine.IO queue takes it.
    private func drain() {
        guard !storeReading, !control.isStopped, let wake else { return }
        var polls = 0
        while socket.engine.whenRoom(wake) {
            polls += 1
            guard polls <= Self.pollsPerDrain else {
                scheduleDrain()
                return
            }
            events.removeAll(keepingCapacity: true)
            let poll: Session.Poll
            do {
                poll = try session.poll(into: &events, onChange: wake)
            } catch {
                end(error)
                return
            }
            switch poll {
            case .delivered:
                guard queue(events) else { return }
            case .interrupted(.gap(let gap)):
                guard queue(gap) else { return }
            case .waiting:
                return
            case .needsStoreRead:
                readStore()
                return
            }
        }
        // No room: the queue's observer drains again once the client has taken packets.
    }

    /// Queues `events` as `claude_event`s and moves the window past them. Returns false once the
    /// session is closed.
    @discardableResult
    private func queue(_ events: [Event]) -> Bool {
        guard let last = events.last else { return true }
        var packets: [EnginePacket] = []
        packets.reserveCapacity(events.count)
        for event in events {
            packets.append(.text(message.bytes(event)))
        }
        guard enqueue(packets) else { return false }
        // Queued, not confirmed (see TetherNamespace); pending events may be acked already.
        try? session.ack(last.seq, confirmed: false)
        return true
    }

    /// Queues the `event_gap` that stands for events the client is no longer owed. Returns false
    /// once the session is closed.
    private func queue(_ gap: Gap) -> Bool {
        enqueue([.text(SocketIOPacket.event("event_gap", [SeedEvents.gap(gap)], namespace: socket.namespace).encodeHeaderAndPayload())])
    }

    private func enqueue(_ packets: [EnginePacket]) -> Bool {
        do {
            try socket.engine.enqueue(packets)
            return true
        } catch {
            finish("connection closed")
            return false
        }
    }

    /// A replay page the fan-out no longer holds in memory: read in a task, queued back on this loop.
    private func readStore() {
        storeReading = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        session.readPage { outcome in
            loop.execute { bound.value.storeRead(outcome) }
        }
    }

    private func storeRead(_ result: Result<(Session.Interruption?, [Event]), any Error>) {
        storeReading = false
        guard !control.isStopped else { return }
        switch result {
        case .success((.gap(let gap)?, _)):
            guard queue(gap) else { return }
        case .success((nil, let page)):
            guard queue(page) else { return }
        case .failure(let error as RelayError):
            end(error)
            return
        case .failure:
            finish("connection closed")
            return
        }
        drain()
    }

    /// The session ended (superseded, shut down, store unavailable): the client is told with a
    /// DISCONNECT and the namespace's task sees the socket's inbound end.
    private func end(_ error: RelayError) {
        guard !control.isStopped else { return }
        socket.disconnectNow()
        finish(error.message)
    }

    private func finish(_ reason: String) {
        guard control.finish(reason) else { return }
        events = []
        socket.finish()
    }
}
