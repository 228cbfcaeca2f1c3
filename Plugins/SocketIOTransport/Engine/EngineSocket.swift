import DequeModule
import NIOCore
import Synchronization
import TetherCore

/// One Engine.IO session (one `sid`): its outbound queue, its current transport (polling, or
/// WebSocket after an upgrade), its heartbeat, and the inbound messages for the layer above.
///
/// Owner: the state is behind the socket's own `Mutex`; the polling requests and the WebSocket
/// handler of the session only call its methods. At most one consumer drains the queue at a time
/// (a second concurrent poll closes the session, as the protocol requires). Over WebSocket that
/// consumer is a job on the channel's event loop, scheduled when packets are queued
/// (EngineSocket+WebSocket.swift), not a task woken per packet (issue 16).
final class EngineSocket: Sendable {
    let id: String
    let remote: String
    let configuration: EngineConfiguration
    /// The connection slot this session holds (``EngineAdmission``), given back when it closes.
    let ticket: ConnectionTicket?
    /// Where the heartbeat's timers run (the loop of the connection that opened the session).
    let loop: any EventLoop
    /// Inbound `message` packets, in order; finishes when the session closes.
    let inbound: AsyncStream<EngineMessage>
    private let inboundContinuation: AsyncStream<EngineMessage>.Continuation
    let state: Mutex<State>
    private let onClose: @Sendable (EngineSocket) -> Void

    enum Transport: Sendable { case polling, websocket }

    /// Why a session ended; decides what a pending poll is answered with.
    enum CloseReason: String, Sendable {
        case clientClosed = "client sent close"
        case transportClosed = "transport closed"
        case pingTimeout = "ping timeout"
        case protocolError = "protocol error"
        case duplicatePoll = "two concurrent polls"
        case tooLarge = "payload too large"
        case serverClosed = "server closed the session"
    }

    struct State {
        var transport: Transport
        /// A WebSocket probe succeeded: polls are answered with `noop` until the upgrade completes.
        var probing = false
        var queue: Deque<EnginePacket> = []
        var queuedBytes = 0
        /// Packets ever queued, and how many of them went out (polling: handed to a response;
        /// WebSocket: written to the channel).
        var enqueued: UInt64 = 0
        var written: UInt64 = 0
        var readers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var senders: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiting for the session to close (woken only then, not per write).
        var closers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var pollActive = false
        var closed: CloseReason?
        /// ``closeAfter(_:reason:)`` was called: nothing more is read from the client, and the
        /// session closes with this reason once everything queued went out.
        var closing: CloseReason?
        /// The heartbeat's reference point: session start or the last pong.
        var anchor: ContinuousClock.Instant
        var pingSentAt: ContinuousClock.Instant?
        var pongObserver: (@Sendable (Duration) -> Void)?
        /// The heartbeat's next timer (a ping, or the check that its pong came), cancelled when
        /// the session closes so that a closed session is freed at once, not at its next ping.
        var heartbeat: Scheduled<Void>?
        /// The WebSocket that carries the session once it opened or upgraded over one: queued
        /// packets are written to it by a job on its loop.
        var webSocket: (any Channel)?
        var webSocketWriteScheduled = false
        /// A loop-driven sender (``whenRoom(_:)``) waits for the queue to fall below the
        /// high-water mark.
        var roomObserver: (@Sendable () -> Void)?
    }

    init(id: String, remote: String, transport: Transport, configuration: EngineConfiguration, loop: any EventLoop, ticket: ConnectionTicket? = nil, onClose: @escaping @Sendable (EngineSocket) -> Void) {
        self.id = id
        self.remote = remote
        self.configuration = configuration
        self.loop = loop
        self.ticket = ticket
        self.onClose = onClose
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: EngineMessage.self)
        state = Mutex(State(transport: transport, anchor: .now))
    }

    /// The `open` packet's JSON payload.
    func handshake(upgrades: [String]) -> EnginePacket {
        var text = "{\"sid\":\"\(id)\",\"upgrades\":["
        text += upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        text += "],\"pingInterval\":\(configuration.pingInterval),\"pingTimeout\":\(configuration.pingTimeout),\"maxPayload\":\(configuration.maxPayload)}"
        return EnginePacket(.open, Array(text.utf8))
    }

    var transport: Transport { state.withLock { $0.transport } }
    var isClosed: Bool { state.withLock { $0.closed != nil } }

    /// Called with each ping round trip (for the relay's latency and quality tracking).
    func observePongs(_ observer: @escaping @Sendable (Duration) -> Void) {
        state.withLock { $0.pongObserver = observer }
    }

    // MARK: Sending

    /// Queues packets for the client, waiting while more than the high-water mark is queued.
    ///
    /// With `untilWritten`, also waits until they went out, so that what is sent next goes in a
    /// later write: the reference server sends what a handler emits after a write completed in
    /// a separate batch, and clients that read frames synchronously rely on that.
    ///
    /// - Throws: ``EngineClosedError`` once the session is closed (the packets are dropped).
    func send(_ packets: [EnginePacket], untilWritten: Bool = false) async throws(EngineClosedError) {
        while true {
            let outcome: UInt64?? = state.withLock { state in
                if state.closed != nil || state.closing != nil { return nil }
                guard state.queuedBytes < configuration.outboundHighWater else { return .some(nil) }
                return Self.append(packets, to: &state)
            }
            switch outcome {
            case nil: throw EngineClosedError()
            case let target??:
                packetsQueued()
                guard untilWritten else { return }
                await wait(.senders) { $0.closed != nil || $0.written >= target }
                if isClosed { throw EngineClosedError() }
                return
            case .some(nil):
                await wait(.senders) { $0.closed != nil || $0.queuedBytes < self.configuration.outboundHighWater }
            }
        }
    }

    /// Queues packets without waiting, for a sender on an event loop that keeps to the high-water
    /// mark itself (``whenRoom(_:)``).
    ///
    /// - Throws: ``EngineClosedError`` once the session is closed or closing (nothing is queued).
    func enqueue(_ packets: [EnginePacket]) throws(EngineClosedError) {
        let queued = state.withLock { state -> Bool in
            guard state.closed == nil, state.closing == nil else { return false }
            Self.append(packets, to: &state)
            return true
        }
        guard queued else { throw EngineClosedError() }
        packetsQueued()
    }

    /// Whether less than the high-water mark is queued (or the session is closing, so that the
    /// sender finds out from ``enqueue(_:)``). When not, `observer` is called once (from whichever
    /// thread takes packets out, or closes the session) as soon as there is room again.
    func whenRoom(_ observer: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            if state.closed != nil || state.closing != nil || state.queuedBytes < configuration.outboundHighWater { return true }
            state.roomObserver = observer
            return false
        }
    }

    @discardableResult
    private static func append(_ packets: [EnginePacket], to state: inout State) -> UInt64 {
        for packet in packets {
            state.queue.append(packet)
            state.queuedBytes += packet.encodedSize
        }
        state.enqueued += UInt64(packets.count)
        return state.enqueued
    }

    /// Hands what was just queued on: a waiting poll, or the WebSocket's writer job.
    private func packetsQueued() {
        wakeReaders()
        scheduleWebSocketWrite()
    }

    /// Queues a control packet (ping, noop) regardless of the high-water mark.
    func sendControl(_ packet: EnginePacket) {
        let queued = state.withLock { state -> Bool in
            guard state.closed == nil, state.closing == nil else { return false }
            Self.append([packet], to: &state)
            return true
        }
        if queued { packetsQueued() }
    }

    // MARK: Draining

    /// What one polling `GET` gets.
    enum PollOutcome: Sendable {
        case payload([UInt8])
        case badRequest(String)
    }

    /// Answers one polling `GET`: waits for packets and returns up to `maxPayload` bytes of them,
    /// `noop` while an upgrade is under way, or the final packet when the session closes.
    func poll() async -> PollOutcome {
        enum Admission { case admitted, closed, upgraded, duplicate }
        let admission = state.withLock { state -> Admission in
            if state.closed != nil { return .closed }
            if state.transport == .websocket { return .upgraded }
            if state.pollActive { return .duplicate }
            state.pollActive = true
            return .admitted
        }
        switch admission {
        case .admitted: break
        case .closed: return .badRequest("session \(id) is closed")
        case .upgraded: return .badRequest("session \(id) was upgraded to WebSocket; polling is over")
        case .duplicate:
            close(.duplicatePoll)
            return .badRequest("session \(id) already had a pending poll (a client may have only one); the session is closed")
        }
        defer { state.withLock { $0.pollActive = false } }
        while true {
            let ready: [UInt8]? = state.withLock { state in
                if let reason = state.closed {
                    return Array((reason == .clientClosed ? "6" : "1").utf8)
                }
                if state.probing || state.transport == .websocket { return Array("6".utf8) }
                guard !state.queue.isEmpty else { return nil }
                let taken = take(&state, upTo: configuration.maxPayload)
                state.written += UInt64(taken.count)
                return EnginePacket.encodePayload(taken)
            }
            if let ready {
                closeIfSaidAll()
                wakeSenders()
                return .payload(ready)
            }
            if Task.isCancelled { return .payload(Array("6".utf8)) }
            await wait(.readers) { $0.closed != nil || $0.probing || $0.transport == .websocket || !$0.queue.isEmpty }
        }
    }

    func take(_ state: inout State, upTo limit: Int) -> [EnginePacket] {
        var taken: [EnginePacket] = []
        var size = 0
        while let packet = state.queue.first, taken.isEmpty || size + packet.encodedSize + 1 <= limit {
            state.queue.removeFirst()
            state.queuedBytes -= packet.encodedSize
            size += packet.encodedSize + 1
            taken.append(packet)
        }
        return taken
    }

    // MARK: Receiving

    /// Handles a packet from the client, whichever transport carried it (nothing, once the
    /// session is closing).
    func receive(_ packet: EnginePacket) {
        guard state.withLock({ $0.closing == nil }) else { return }
        switch packet.kind {
        case .message:
            inboundContinuation.yield(packet.isBinary ? .binary(packet.payload) : .text(packet.payload))
        case .pong:
            let now = ContinuousClock.now
            let (observer, roundTrip) = state.withLock { state -> ((@Sendable (Duration) -> Void)?, Duration?) in
                state.anchor = now
                defer { state.pingSentAt = nil }
                return (state.pongObserver, state.pingSentAt.map { now - $0 })
            }
            if let observer, let roundTrip { observer(roundTrip) }
        case .close:
            close(.clientClosed)
        case .open, .ping, .upgrade, .noop:
            break  // probes and upgrades are the WebSocket handler's business; the rest is noise
        }
    }

    // MARK: Heartbeat and closing

    /// Starts the heartbeat for the session's life: a ping `pingInterval` after the last pong (or
    /// the session's start), and the session closed when that ping's pong is `pingTimeout` late.
    /// Event-loop timers, one at a time, not a task per session: an idle session holds no task
    /// for its heartbeat (issue 16).
    func startHeartbeat() {
        schedulePing(after: state.withLock { $0.anchor })
    }

    /// The next ping, `pingInterval` after `anchor`.
    private func schedulePing(after anchor: ContinuousClock.Instant) {
        scheduleHeartbeat(at: anchor + configuration.pingIntervalDuration) { $0.pingDue(anchor: anchor) }
    }

    private func pingDue(anchor: ContinuousClock.Instant) {
        let current = state.withLock { state -> ContinuousClock.Instant? in
            guard state.closed == nil else { return nil }
            if state.anchor == anchor { state.pingSentAt = .now }
            return state.anchor
        }
        guard let current else { return }
        // A pong nobody asked for moved the anchor: the ping is due later.
        guard current == anchor else { return schedulePing(after: current) }
        sendControl(EnginePacket(.ping))
        scheduleHeartbeat(at: anchor + configuration.pingIntervalDuration + configuration.pingTimeoutDuration) { $0.pongDue(anchor: anchor) }
    }

    private func pongDue(anchor: ContinuousClock.Instant) {
        let current = state.withLock { state -> ContinuousClock.Instant? in
            state.closed == nil ? state.anchor : nil
        }
        guard let current else { return }
        if current == anchor {
            close(.pingTimeout)
        } else {
            schedulePing(after: current)
        }
    }

    /// Runs `body` at `instant` on the session's loop, unless the session closes first.
    private func scheduleHeartbeat(at instant: ContinuousClock.Instant, _ body: @escaping @Sendable (EngineSocket) -> Void) {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: instant).components
        let delay = TimeAmount.nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        let timer = loop.scheduleTask(in: delay) { [weak self] in
            if let self { body(self) }
        }
        let closed = state.withLock { state -> Bool in
            state.heartbeat = timer
            return state.closed != nil
        }
        if closed { timer.cancel() }
    }

    /// Closes the session if its client owes a pong for longer than `pingTimeout` (checked when
    /// a request arrives, so a late timer cannot keep a dead session answering). Returns whether
    /// the session is (now) closed.
    func expireIfOverdue() -> Bool {
        let overdue = state.withLock { state -> Bool in
            state.closed == nil && ContinuousClock.now > state.anchor + configuration.pingIntervalDuration + configuration.pingTimeoutDuration
        }
        if overdue { close(.pingTimeout) }
        return isClosed
    }

    /// Queues `packets` as the session's last words and closes it with `reason` once they went
    /// out. From now on nothing from the client is read (not even pongs, so a client that never
    /// fetches them is closed by the heartbeat), and the inbound stream finishes at once: nothing
    /// piles up for a reader that is gone.
    func closeAfter(_ packets: [EnginePacket], reason: CloseReason) {
        let queued = state.withLock { state -> Bool in
            guard state.closed == nil, state.closing == nil else { return false }
            state.closing = reason
            Self.append(packets, to: &state)
            return true
        }
        guard queued else { return }
        inboundContinuation.finish()
        packetsQueued()
        closeIfSaidAll()
    }

    /// Closes a closing session once everything queued was written.
    func closeIfSaidAll() {
        let reason = state.withLock { state -> CloseReason? in
            guard state.closed == nil, let reason = state.closing, state.written >= state.enqueued else { return nil }
            return reason
        }
        if let reason { close(reason) }
    }

    /// Ends the session: the layer above sees its inbound stream finish, waiters wake, and the
    /// server forgets the `sid`. Idempotent.
    func close(_ reason: CloseReason) {
        let (first, heartbeat, closers, room) = state.withLock { state -> (Bool, Scheduled<Void>?, [CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) in
            guard state.closed == nil else { return (false, nil, [], nil) }
            state.closed = reason
            defer {
                state.heartbeat = nil
                state.closers.removeAll()
                state.roomObserver = nil
                state.webSocket = nil
            }
            return (true, state.heartbeat, Array(state.closers.values), state.roomObserver)
        }
        guard first else { return }
        heartbeat?.cancel()
        ticket?.release()
        wakeReaders()
        wakeSenders()
        for closer in closers { closer.resume() }
        room?()  // a waiting loop-driven sender learns that the session ended
        inboundContinuation.finish()
        onClose(self)
    }

    var closeReason: CloseReason? { state.withLock { $0.closed } }

    /// Returns once the session is closed.
    func closed() async {
        await wait(.closers) { $0.closed != nil }
    }

    // MARK: Waiting

    private enum WaitList { case readers, senders, closers }

    private func wait(_ list: WaitList, until ready: @escaping @Sendable (State) -> Bool) async {
        let token = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || ready(state) { return true }
                    switch list {
                    case .readers: state.readers[token] = continuation
                    case .senders: state.senders[token] = continuation
                    case .closers: state.closers[token] = continuation
                    }
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                switch list {
                case .readers: state.readers.removeValue(forKey: token)
                case .senders: state.senders.removeValue(forKey: token)
                case .closers: state.closers.removeValue(forKey: token)
                }
            }
            waiter?.resume()
        }
    }

    func wakeReaders() {
        let waiters = state.withLock { state in
            defer { state.readers.removeAll() }
            return Array(state.readers.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Packets left the queue: senders waiting for room or for their packets to go out wake, and
    /// so does a loop-driven sender once there is room.
    func wakeSenders() {
        let (waiters, room) = state.withLock { state -> ([CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) in
            var room: (@Sendable () -> Void)?
            if state.roomObserver != nil, state.queuedBytes < configuration.outboundHighWater {
                swap(&room, &state.roomObserver)
            }
            guard !state.senders.isEmpty else { return ([], room) }
            defer { state.senders.removeAll() }
            return (Array(state.senders.values), room)
        }
        for waiter in waiters { waiter.resume() }
        room?()
    }
}

/// A message from the client: text (UTF-8) or binary.
enum EngineMessage: Sendable, Hashable {
    case text([UInt8])
    case binary([UInt8])
}

/// The session closed before the packet could be queued.
struct EngineClosedError: Error, Sendable {}
