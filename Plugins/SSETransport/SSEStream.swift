import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TetherCore

/// One SSE connection: writes the welcome, then whatever the session delivers, with heartbeats
/// while idle, until the client goes away, the session ends, or the relay shuts down.
///
/// It waits without a task per wait: the session's ``Session/poll(into:onChange:)`` registers an
/// ``SSEWake`` with the fan-out, and the heartbeat is a timer on the connection's event loop; the
/// one task is Hummingbird's response writer. Each event's record is encoded once
/// (``SSERecord``) and shared by every SSE subscriber.
struct SSEStream: Sendable {
    let session: Session
    let configuration: SSETransport.Configuration
    let eventLoop: any EventLoop
    let logger: Logger
    /// What the stream waits on; ``SSEHangUpWatcher`` cancels it when the client hangs up.
    let wake = SSEWake()

    func run(_ writer: inout any ResponseBodyWriter) async {
        var reason = "client went away"
        do {
            try await writer.write(ByteBuffer(bytes: welcome()))
            // Graceful shutdown ends the stream as a hang-up does; no task per stream watches it.
            try await withGracefulShutdownHandler {
                try await deliver(to: &writer, wake: wake)
            } onGracefulShutdown: {
                wake.resume(.cancelled)
            }
            reason = Task.isShuttingDownGracefully ? "the relay is shutting down (the stream was ended)" : "the client closed the connection"
        } catch let error as RelayError {
            reason = error.message
            var frame = JSONWriter()
            frame.raw("event: tether.error\ndata: {\"code\":")
            frame.string(error.code.rawValue)
            frame.raw(",\"message\":")
            frame.string(error.message)
            frame.raw("}\n\n")
            try? await writer.write(ByteBuffer(bytes: frame.bytes))
        } catch is CancellationError {
            // The task was cancelled: the relay's grace period ran out, or the server gave up on
            // the connection. (A hang-up does not cancel it: `SSEHangUpWatcher` ends the wait.)
            reason = Task.isShuttingDownGracefully ? "the relay is shutting down (the stream was ended)" : "the client closed the connection"
        } catch {
            reason = wake.isHungUp ? "the client closed the connection" : "stream write failed: \(error)"
        }
        session.close(reason: reason)
        try? await writer.finish(nil)
    }

    /// Writes what the session delivers, and heartbeats while it is idle, until the stream is
    /// cancelled or the relay shuts down.
    private func deliver(to writer: inout any ResponseBodyWriter, wake: SSEWake) async throws {
        var buffer: [Event] = []
        let heartbeat = TimeAmount.milliseconds(Int64(configuration.heartbeatInterval * 1000))
        let epoch = Array(session.welcome.epoch.rawValue.utf8)
        while !Task.isCancelled, !wake.isCancelled {
            buffer.removeAll(keepingCapacity: true)
            switch try session.poll(into: &buffer, onChange: wake.callback) {
            case .waiting:
                switch await wake.wait(heartbeat: heartbeat, on: eventLoop) {
                case .woken, .cancelled: continue
                case .heartbeat: try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                }
                continue
            case .interrupted(.gap(let gap)):
                try await writer.write(ByteBuffer(bytes: Self.gapEvent(gap)))
                continue
            case .needsStoreRead:
                if case .gap(let gap) = try await session.next(into: &buffer) {
                    try await writer.write(ByteBuffer(bytes: Self.gapEvent(gap)))
                    continue
                }
            case .delivered:
                break
            }
            var frame = ByteBuffer()
            frame.reserveCapacity(buffer.reduce(0) { $0 + $1.data.count + epoch.count + 64 })
            for event in buffer {
                frame.writeStaticString("id: ")
                frame.writeBytes(epoch)
                frame.writeImmutableBuffer(event.encoded(as: SSERecord.self))
            }
            try await writer.write(frame)
            // Written to the socket: enough to move the window (see SSETransport), not to
            // move the client's resume position.
            try session.ack(buffer[buffer.count - 1].seq, confirmed: false)
            session.touch()
        }
    }

    private func welcome() -> [UInt8] {
        let welcome = session.welcome
        var w = JSONWriter()
        w.raw("retry: ")
        w.number(configuration.retryMilliseconds)
        w.raw("\n")
        if welcome.plan.reset {
            w.raw("event: tether.reset\ndata: {\"epoch\":")
            w.string(welcome.epoch.rawValue)
            w.raw(",\"head\":")
            w.number(welcome.plan.head)
            w.raw("}\n\n")
        }
        if let gap = welcome.plan.gap { w.raw(Self.gapEvent(gap)) }
        w.raw("event: tether.welcome\ndata: {\"client_id\":")
        w.string(welcome.clientID)
        if let token = welcome.resumeToken {
            w.raw(",\"resume_token\":")
            w.string(token)
        }
        w.raw(",\"epoch\":")
        w.string(welcome.epoch.rawValue)
        w.raw(",\"head\":")
        w.number(welcome.plan.head)
        w.raw(",\"replay\":{\"from\":")
        w.number(welcome.plan.startAfter + 1)
        w.raw(",\"to\":")
        w.number(welcome.plan.head)
        w.raw(",\"count\":")
        w.number(welcome.replayCount)
        w.raw(",\"reset\":")
        w.raw(welcome.plan.reset ? "true" : "false")
        w.raw("}}\n\n")
        return w.bytes
    }

    static func gapEvent(_ gap: Gap) -> [UInt8] {
        var w = JSONWriter()
        w.raw("event: tether.gap\ndata: ")
        w.gap(gap)
        w.raw("\n\n")
        return w.bytes
    }

}

/// An event's SSE record after its `id: <epoch>` prefix: `:<seq>`, then its `event:` and
/// `data:` lines. The producer's JSON may contain raw newlines only as white space between
/// tokens (inside strings they are escaped), so each line of it becomes its own `data:` line,
/// which an SSE client joins back with newlines. The epoch is the stream's own, written before
/// it, so the record is the same for every subscriber and encoded once per event.
enum SSERecord: WireFormat {
    static let cache = WireCache<Self>()

    static func encode(_ event: Event) -> ByteBuffer {
        var w = JSONWriter(capacity: event.data.count + event.topic.utf8.count + 40)
        w.raw(":")
        w.number(event.seq)
        w.raw("\nevent: ")
        // Topics are validated to have no control characters, so no newline can end the field.
        w.raw(Array(event.topic.utf8))
        w.raw("\ndata: ")
        for byte in event.data {
            if byte == 0x0A {
                w.raw("\ndata: ")
            } else if byte != 0x0D {
                w.bytes.append(byte)
            }
        }
        w.raw("\n\n")
        return ByteBuffer(bytes: w.bytes)
    }
}

/// What an ``SSEStream`` waits on between deliveries: the fan-out's wake, the heartbeat timer or
/// the stream's cancellation, whichever comes first.
///
/// Ownership: its state is behind its own lock; the fan-out, the event loop's timer and the
/// cancellation handler resume it from their threads, the stream's task waits on it.
final class SSEWake: Sendable {
    enum Outcome: Sendable {
        case woken
        case heartbeat
        case cancelled
    }

    private struct State {
        var waiting: CheckedContinuation<Outcome, Never>?
        /// A wake that came while nobody waited: the next wait returns at once.
        var pending: Outcome?
        /// Cancelled for good: every wait from now on returns at once.
        var cancelled = false
        /// The client hung up (``hangUp()``).
        var hungUp = false
    }

    private let state = Mutex(State())

    /// Whether the stream was cancelled (the relay is shutting down, or the client hung up).
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Whether the client hung up.
    var isHungUp: Bool { state.withLock { $0.hungUp } }

    /// The client hung up: the stream ends (``SSEHangUpWatcher``).
    func hangUp() {
        state.withLock { $0.hungUp = true }
        resume(.cancelled)
    }

    /// The fan-out's wake, made once.
    var callback: @Sendable () -> Void { { [self] in resume(.woken) } }

    func resume(_ outcome: Outcome) {
        let continuation = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            if outcome == .cancelled { state.cancelled = true }
            guard let waiting = state.waiting else {
                // A heartbeat that fired after its wait ended means nothing.
                if outcome == .woken { state.pending = .woken }
                return nil
            }
            state.waiting = nil
            return waiting
        }
        continuation?.resume(returning: outcome)
    }

    /// Waits for a wake, `heartbeat` of silence, or cancellation.
    func wait(heartbeat: TimeAmount, on eventLoop: any EventLoop) async -> Outcome {
        let timer = eventLoop.scheduleTask(in: heartbeat) { [self] in resume(.heartbeat) }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Outcome? in
                    if state.cancelled { return .cancelled }
                    if let pending = state.pending {
                        state.pending = nil
                        return pending
                    }
                    if Task.isCancelled { return .cancelled }
                    state.waiting = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            resume(.cancelled)
        }
    }
}

/// Ends an SSE stream as soon as its client hangs up: the inbound side of the connection closes
/// (Hummingbird's server allows half-closed connections, so that is an event, not a close) or
/// the connection closes. Added at the front of the pipeline for the stream's life, so it sees
/// both before any other handler, TLS included; it passes everything on unchanged.
///
/// Ownership: a channel handler, confined to its channel's event loop; the wake it holds is
/// shared with the stream's task through the wake's own lock.
final class SSEHangUpWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private let wake: SSEWake

    init(wake: SSEWake) {
        self.wake = wake
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // The client may have gone while the stream was being set up.
        if !context.channel.isActive { wake.hangUp() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { wake.hangUp() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        wake.hangUp()
        context.fireChannelInactive()
    }
}
