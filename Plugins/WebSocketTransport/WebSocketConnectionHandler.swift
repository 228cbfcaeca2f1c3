import Logging
import NIOCore
import NIOWebSocket
import TetherCore
import TetherRouting

/// One client's WebSocket connection, driven from its channel's event loop: the hello
/// handshake, then one core `Session` until either side ends it. It replaces the four tasks a
/// connection used to be (reader, writer, pinger, publisher) with state on the event loop, so an
/// idle subscriber costs its buffers and no CPU, and a wake-up is one scheduled job, not a task
/// switch (issue 16).
///
/// Where it sits: after NIO's frame decoder and ``FrameRulesHandler``, before the
/// `NIOAsyncChannel` that Hummingbird's WebSocket layer (WSCore) would read. It takes every frame
/// itself: it answers the client's WebSocket pings, both sides of the close handshake, and the
/// server's graceful shutdown (`ChannelShouldQuiesceEvent`: close 1000). So it claims the
/// connection's `WebSocketTakeover`, and the server's per-connection task ends instead of running
/// WSCore for the connection's life (WebSocketConnectionHandler+Closing.swift).
///
/// - **Inbound**: data frames are reassembled into messages (at most
///   ``WebSocketTransport/Configuration/maxFrameBytes``) and handled in arrival order: hello,
///   acks, pings, pongs, echo, stats here; publishes queue for a task that hands each run of them
///   to the relay as one batch (WebSocketConnectionHandler+Publishing.swift).
/// - **Delivery** (WebSocketConnectionHandler+Delivery.swift): the fan-out's wake schedules a
///   drain on this loop; the drain polls the session while the channel is writable, writes every
///   frame it gets and flushes once. Backpressure is channel writability plus the session's
///   in-flight window: a client that stops reading holds the relay to a window of sequence
///   numbers, never a queue of copies.
/// - **Timers**: the hello deadline and the close handshake's deadline are event-loop timers;
///   the relay's pings come from its loop's ``PingSchedule``, one timer for every connection.
///
/// Ownership: every stored property is confined to the channel's event loop (the handler is
/// created there and only touched there; work done elsewhere, a subscribe or a publish batch, hops
/// back with `execute`). The session is shared with the relay through its own lock.
final class WebSocketConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Who is on the other side, from the upgrade request.
    struct Peer: Sendable {
        /// `host:port`, for logs and stats.
        var remote: String
        /// The address without its port: the key of the connection limits and the publish rate.
        var address: String
        /// The bearer token of the upgrade request; publishes need it in the produce scope.
        var token: String?
    }

    enum Phase {
        /// Upgraded; the first message must be a hello.
        case awaitingHello
        /// The hello is with the relay; messages that arrive meanwhile wait in `held`.
        case subscribing
        case streaming(Session)
        /// A close frame went out; only the peer's close (or the deadline) is awaited.
        case closing
        case closed
    }

    let relay: Relay
    let configuration: WebSocketTransport.Configuration
    let decoder: PublishRequestDecoder
    let peer: Peer
    let logger: Logger
    let scanner: JSONScanner

    /// Set in `handlerAdded`; the handler lives no longer than its context.
    var context: ChannelHandlerContext!
    var phase = Phase.awaitingHello
    var ticket: ConnectionTicket?
    /// Why the connection ended, first reason wins (the session is closed with it).
    var endReason: String?

    // Inbound
    var message: PartialMessage?
    /// Messages that arrived while the hello was with the relay.
    var held: [[UInt8]] = []
    /// A `read` the pipeline asked for while reading was paused (subscribing, publish backlog full).
    var readPending = false

    // Delivery
    var events: [Event] = []
    var batching = false
    /// This loop's shared encodings of the newest events (set in `handlerAdded`).
    var encodings: LoopEncodings!
    /// The elements of the `events` frame being built, reused from frame to frame.
    var objects: [ByteBuffer] = []
    var drainScheduled = false
    /// With a write delay: the loop's deferred drains, and when this connection last drained.
    var deferredDrains: DeferredDrains?
    var lastDrain = NIODeadline.uptimeNanoseconds(0)
    var storeReading = false
    /// The fan-out's wake: schedules a drain on this loop. Made once per connection.
    var onChange: (@Sendable () -> Void)?

    // Timers
    var helloTimer: Scheduled<Void>?
    var closeTimer: Scheduled<Void>?
    var pings: [UInt64: NIODeadline] = [:]
    var lastPingID: UInt64 = 0

    // Publishing
    var backlog: [PublishItem] = []
    var publishing = false
    static let maxQueuedPublishes = 1024

    // Closing
    /// A close frame went out (this handler sends the connection's only one).
    var closeSent = false
    /// The server's offer to end the connection's task, claimed in `handlerAdded`; its parked
    /// objects are let go when the connection ends.
    var takeover: WebSocketTakeover?

    init(relay: Relay, configuration: WebSocketTransport.Configuration, decoder: PublishRequestDecoder, peer: Peer, logger: Logger) {
        self.relay = relay
        self.configuration = configuration
        self.decoder = decoder
        self.peer = peer
        self.logger = logger
        self.scanner = JSONScanner(maxDepth: decoder.limits.maxDepth)
    }

    /// Runs `body` on this handler's loop, from any thread.
    func onLoop(_ body: @escaping @Sendable (WebSocketConnectionHandler) -> Void) -> @Sendable () -> Void {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        return { loop.execute { body(bound.value) } }
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        encodings = LoopEncodings.of(context.eventLoop)
        if configuration.writeDelay > .zero {
            deferredDrains = DeferredDrains.of(context.eventLoop, delay: .nanoseconds(configuration.writeDelay.nanoseconds))
        }
        if let offer = try? context.pipeline.syncOperations.handler(type: WebSocketTakeover.self) {
            offer.claim()
            takeover = offer
        }
        // Refusals happen after the upgrade, as an error frame and a close code, because
        // Hummingbird answers any upgrade refused in `shouldUpgrade` with an empty 400 that would
        // not say why. A missing or wrong token is final: close 4510/4511 (do-not-reconnect
        // range). Past a connection limit: too_many_connections or server_busy and close 1013
        // (try again later). The slot is for the socket's life.
        do throws(RelayError) {
            ticket = try relay.gate.admitSubscriber(token: peer.token, address: peer.address)
        } catch {
            let code = switch error.code {
            case .unauthorized: 4510
            case .forbidden: 4511
            default: 1013
            }
            sendClose(code: code, reason: error.code.rawValue, after: RelayFrame.error(error), because: "\(error.code): \(error.message)")
            return
        }
        onChange = onLoop { $0.scheduleDrain() }
        helloTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(configuration.helloTimeout.nanoseconds)) { [self] in
            guard case .awaitingHello = phase else { return }
            fail(RelayError(.helloTimeout, "no hello within \(configuration.helloTimeout); send {\"type\":\"hello\"} first"))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(reason: "connection closed")
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(reason: "connection lost")
        context.fireChannelInactive()
    }

    /// Ends everything once: timers, the session (with the first reason given), the slot.
    private func finish(reason: String) {
        if case .closed = phase { return }
        let session: Session? = if case .streaming(let session) = phase { session } else { nil }
        phase = .closed
        helloTimer?.cancel()
        closeTimer?.cancel()
        let reason = endReason ?? reason
        endReason = reason
        session?.close(reason: reason)
        ticket?.release()
        ticket = nil
        takeover?.release()
        takeover = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            receivedClose()
        case .ping:
            answerPing(frame)
        case .pong:
            break  // the relay sends no WebSocket pings; an unsolicited pong needs no answer
        case .text, .binary, .continuation:
            guard let complete = assemble(frame) else { return }
            received(complete)
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let violation = error as? FrameRules.Violation {
            fail(violation.error)
            return
        }
        endReason = endReason ?? "connection lost: \(error)"
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            shutDown()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Handles one whole message, in arrival order.
    func received(_ message: InboundMessage) {
        helloTimer?.cancel()
        helloTimer = nil
        switch phase {
        case .closing, .closed:
            return
        case .subscribing:
            // After the hello, before the welcome: wait for the session (reading is paused, so
            // this is at most what one read brought).
            if case .text(let bytes) = message { held.append(bytes) } else { refuse(message) }
            return
        case .awaitingHello, .streaming:
            break
        }
        guard case .text(let bytes) = message else {
            refuse(message)
            return
        }
        handleText(bytes)
    }

    private func refuse(_ message: InboundMessage) {
        switch message {
        case .binary:
            fail(RelayError(.unsupportedData, "binary frames are not part of the protocol; send JSON text frames"))
        case .tooLarge(let size):
            fail(RelayError(.tooLarge, "a message of \(size) bytes is over the limit of \(configuration.maxFrameBytes) (transport.websocket.max-frame-bytes)"))
        case .notUTF8:
            fail(FrameRules.Violation.notUTF8("a text message").error)
        case .text:
            break
        }
    }

    func handleText(_ bytes: [UInt8]) {
        let session: Session? = if case .streaming(let session) = phase { session } else { nil }
        session?.touch()
        let frame: ClientFrame
        do {
            frame = try ClientFrame.parse(bytes, scanner: scanner)
        } catch {
            fail(error)
            return
        }
        guard let session else {
            guard case .hello(let hello, let batch) = frame else {
                fail(RelayError(.helloRequired, "the first frame must be {\"type\":\"hello\", ...}; see docs/PROTOCOL.md"))
                return
            }
            subscribe(hello, batch: batch)
            return
        }
        handle(frame, bytes: bytes, session: session)
    }

    /// Hands the hello to the relay; the welcome (or the refusal) comes back on this loop.
    private func subscribe(_ hello: Hello, batch: Bool) {
        phase = .subscribing
        batching = batch
        let relay = relay
        let remote = peer.remote
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        Task {
            do throws(RelayError) {
                let session = try await relay.subscribe(hello, transport: "websocket", remote: remote)
                loop.execute { bound.value.attached(session, hello: hello) }
            } catch {
                loop.execute { bound.value.fail(error) }
            }
        }
    }

    private func attached(_ session: Session, hello: Hello) {
        guard case .subscribing = phase else {
            // The connection ended while the relay answered.
            session.close(reason: endReason ?? "connection closed")
            return
        }
        phase = .streaming(session)
        let welcome = RelayFrame.welcome(session.welcome, presentedToken: hello.resumeToken, settings: relay.configuration, pingInterval: configuration.pingInterval)
        send(welcome, flush: false)
        PingSchedule.of(context.eventLoop, interval: .nanoseconds(configuration.pingInterval.nanoseconds)).add(self)
        drain()  // flushes the welcome with the first events
        let waiting = held
        held.removeAll()
        for bytes in waiting {
            guard case .streaming = phase else { return }
            handleText(bytes)
        }
        resumeReading()
    }

    /// Handles one frame after the handshake.
    private func handle(_ frame: ClientFrame, bytes: [UInt8], session: Session) {
        switch frame {
        case .ack(let seq):
            do {
                try session.ack(seq)
            } catch {
                relay.counters.countRefused(error.code)
                send(RelayFrame.error(error))
            }
        case .ping(let id):
            send(RelayFrame.pong(id: id))
        case .echo(let id, let data):
            send(RelayFrame.echo(id: id, data: data))
        case .pong(let id):
            if let number = UInt64(String(decoding: id, as: UTF8.self)), let sent = pings.removeValue(forKey: number) {
                session.recordPing(roundTrip: Double((NIODeadline.now() - sent).nanoseconds) / 1e9)
            }
        case .publish(let producerID, let members):
            enqueuePublish(bytes, members: members, id: producerID)
        case .stats:
            do {
                send(RelayFrame.stats(try relay.stats().jsonBytes()))
            } catch {
                send(RelayFrame.error(RelayError(RelayError.Code(rawValue: "internal"), "stats could not be encoded: \(error)")))
            }
        case .hello:
            fail(RelayError(.duplicateHello, "this connection already said hello; open a new connection to change identity or position"))
        case .unknown(let type):
            let error = RelayError(.unknownType, "unknown frame type \"\(type)\"; this relay understands hello, ack, ping, pong, echo, publish, stats")
            relay.counters.countRefused(error.code)
            send(RelayFrame.error(error))
        }
    }

    // MARK: Reading pace

    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    private var readingPaused: Bool {
        if case .subscribing = phase { return true }
        return backlog.count >= Self.maxQueuedPublishes
    }

    func resumeReading() {
        guard readPending, !readingPaused else { return }
        readPending = false
        context.read()
    }

    // MARK: Pings

    /// Sends the next JSON ping, when its ``PingSchedule`` says it is due; false once the
    /// connection is no longer streaming (it leaves the schedule).
    func ping() -> Bool {
        guard case .streaming = phase else { return false }
        lastPingID += 1
        pings[lastPingID] = .now()
        // Unanswered pings are forgotten after a few newer ones.
        if pings.count > 8, let oldest = pings.keys.min() { pings[oldest] = nil }
        send(RelayFrame.ping(id: lastPingID))
        return true
    }
}

extension Duration {
    /// This duration in whole nanoseconds (saturating), for NIO's timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
