import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import TetherCore
import TetherRouting

/// One SSE stream, served from its connection's event loop: the welcome, then whatever the
/// session delivers, with heartbeats while idle, until the client goes away, the session ends, or
/// the relay shuts down. An idle stream costs this handler and its connection's buffers, not a
/// task (issue 16: a task keeps every allocation slab it ever used until it ends: ~40 KB for a
/// stream served from the request's task, ~14 KB for Hummingbird's connection task parked behind
/// it).
///
/// How it takes over: the route, in Hummingbird's request task, admits the client and opens its
/// session, then calls ``install(on:session:configuration:ticket:)``, which puts this handler
/// just before Hummingbird's `HTTPConnectionStateHandler` and removes that (its idle timeout
/// would end a quiet stream, and it keeps shutdown's quiesce event to itself while a response is
/// in progress), and hands the connection over (`ConnectionHandOver`). The route answers with a
/// head and an empty body of unknown length; this handler passes the head on, keeps the body's
/// end back, and from then on owns the response. When the request's responder returns, the
/// server ends Hummingbird's task for the connection; this handler keeps the socket open through
/// the close that comes with that, and asks for reads itself from then on (see
/// `ConnectionHandOver` for why).
///
/// Nothing the client sends after the request reaches Hummingbird (a request pipelined behind an
/// endless response could never be answered). The stream ends with the response's last chunk and
/// the connection closes: the client reconnects with `Last-Event-ID`, as EventSource does.
///
/// Ownership: a channel handler, confined to its channel's event loop; every field is touched
/// only there. The fan-out wakes it from its own threads through `onChange`, which hops to the loop.
final class SSEStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// Installed; the route's response head and end have not come through yet.
        case awaitingResponse
        /// This handler owns the response body.
        case streaming
        /// The session is closed and the connection slot released.
        case ended
    }

    /// Polls per drain before the loop is given back to other connections.
    static let pollsPerDrain = 16
    static let heartbeatComment = ByteBuffer(string: ": heartbeat\n\n")

    let session: Session
    private let configuration: SSETransport.Configuration
    private let ticket: ConnectionTicket
    private let heartbeatInterval: TimeAmount
    /// Written before each event's shared record (``SSERecord``): `id: <epoch>`.
    private let idPrefix: [UInt8]
    private var phase = Phase.awaitingResponse
    private var context: ChannelHandlerContext?
    /// The fan-out's wake: a drain on this loop.
    private var onChange: (@Sendable () -> Void)?
    /// The events of one poll, in a buffer kept between polls.
    private var events: [Event] = []
    private var drainScheduled = false
    /// A replay page is being read from the store (in a task); polling waits for it.
    private var storeReading = false
    /// Shutdown began before the stream started: it ends as soon as it has.
    private var quiesced = false
    /// Whether the close that comes when Hummingbird lets go of the connection has come (and was
    /// kept from closing the socket).
    private var releasedByHummingbird = false
    private var heartbeat: Scheduled<Void>?
    /// When something was last written: a heartbeat is due `heartbeatInterval` after it.
    private var lastWrite = NIODeadline.now()

    private init(session: Session, configuration: SSETransport.Configuration, ticket: ConnectionTicket) {
        self.session = session
        self.configuration = configuration
        self.ticket = ticket
        self.heartbeatInterval = .milliseconds(Int64(configuration.heartbeatInterval * 1000))
        self.idPrefix = Array("id: \(session.welcome.epoch.rawValue)".utf8)
    }

    /// Hands `session`'s stream to a handler in `channel`'s pipeline, which releases `ticket` when
    /// the stream ends. Returns false, having done nothing, when the connection has already
    /// closed (the caller still owns the session and the ticket).
    ///
    /// - Throws: when Hummingbird's pipeline is not as this handler expects (a Hummingbird release
    ///   that renamed `HTTPConnectionStateHandler`); the SSE tests say so.
    static func install(
        on channel: any Channel,
        session: Session,
        configuration: SSETransport.Configuration,
        ticket: ConnectionTicket
    ) async throws -> Bool {
        try await channel.eventLoop.submit {
            guard channel.isActive else { return false }
            let pipeline = channel.pipeline.syncOperations
            let state = try pipeline.context(handlerType: HTTPConnectionStateHandler.self)
            let handler = SSEStreamHandler(session: session, configuration: configuration, ticket: ticket)
            try pipeline.addHandler(handler, position: .before(state.handler))
            pipeline.removeHandler(context: state, promise: nil)
            ConnectionHandOver.handOver(channel)
            return true
        }.get()
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        onChange = { loop.execute { bound.value.drain() } }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end(reason: "the connection closed", closing: false)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(reason: "the client closed the connection", closing: false)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown (the server's, or the inherited socket's quiesce): the stream ends
            // with its last chunk and the connection closes. Nothing behind this handler needs it.
            if case .awaitingResponse = phase {
                quiesced = true
            } else {
                end(reason: "the relay is shutting down (the stream was ended)", closing: true)
            }
            return
        }
        // Hummingbird's server allows half-closed connections, so a client hanging up is an event,
        // not a close; it is noticed here at once, not at the next heartbeat's write.
        if case .inputClosed? = event as? ChannelEvent {
            end(reason: "the client closed the connection", closing: false)
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After the request, what the client sends is dropped here: nothing behind this handler
        // reads it any more.
        guard case .awaitingResponse = phase else { return }
        context.fireChannelRead(data)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { scheduleDrain() }
        context.fireChannelWritabilityChanged()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .awaitingResponse = phase else {
            // Hummingbird answered its request already; nothing else of its may reach the stream.
            promise?.fail(ChannelError.outputClosed)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head, .body:
            context.write(data, promise: promise)
        case .end:
            promise?.succeed()
            start(context)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Closes from behind this handler while it streams come from Hummingbird letting go of
        // the connection (ConnectionHandOver): its writer half-closes the output, then it closes
        // the channel, once. Neither may end the stream; this handler closes the connection itself
        // when the stream ends (from its own context, which does not pass through here).
        if case .streaming = phase {
            switch mode {
            case .output:
                promise?.succeed()
                return
            case .all where !releasedByHummingbird:
                releasedByHummingbird = true
                promise?.succeed()
                return
            default:
                break
            }
        }
        context.close(mode: mode, promise: promise)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Once Hummingbird has let go of the connection, the handler of its inbound stream may
        // pass no read request on (NIO's `NIOAsyncChannelHandler` stops once that stream has
        // ended): this handler asks for the next read itself, so that a hang-up is seen
        // whatever that handler does.
        if case .awaitingResponse = phase {} else { context.read() }
        context.fireChannelReadComplete()
    }

    // MARK: Streaming

    private func start(_ context: ChannelHandlerContext) {
        phase = .streaming
        write(ByteBuffer(bytes: welcome()), on: context)
        context.flush()
        context.read()
        if quiesced {
            end(reason: "the relay is shutting down (the stream was ended)", closing: true)
            return
        }
        armHeartbeat(at: lastWrite + heartbeatInterval)
        drain()
    }

    private func write(_ chunk: ByteBuffer, on context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.body(chunk)), promise: nil)
        lastWrite = .now()
    }

    private func scheduleDrain() {
        guard !drainScheduled, let context else { return }
        drainScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            drainScheduled = false
            drain()
        }
    }

    /// Writes what the session has for the client while the channel takes it, then flushes once.
    private func drain() {
        guard case .streaming = phase, !storeReading, let context, let onChange else { return }
        defer { context.flush() }
        var polls = 0
        // Not writable: `channelWritabilityChanged` drains again when the client has read.
        while context.channel.isWritable {
            polls += 1
            guard polls <= Self.pollsPerDrain else {
                scheduleDrain()
                return
            }
            events.removeAll(keepingCapacity: true)
            do {
                switch try session.poll(into: &events, onChange: onChange) {
                case .delivered:
                    try writeEvents(on: context)
                case .interrupted(.gap(let gap)):
                    write(ByteBuffer(bytes: Self.gapEvent(gap)), on: context)
                case .waiting:
                    return
                case .needsStoreRead:
                    readStore(on: context)
                    return
                }
            } catch {
                fail(error)
                return
            }
        }
    }

    /// Writes `events` as one chunk, each event's shared record after this stream's id prefix.
    private func writeEvents(on context: ChannelHandlerContext) throws(RelayError) {
        guard let last = events.last else { return }
        var chunk = context.channel.allocator.buffer(capacity: events.reduce(0) { $0 + $1.data.count + idPrefix.count + 64 })
        for event in events {
            chunk.writeBytes(idPrefix)
            chunk.writeImmutableBuffer(event.encoded(as: SSERecord.self))
        }
        write(chunk, on: context)
        // Written to the socket: enough to move the window (see SSETransport), not to move the
        // client's resume position.
        try session.ack(last.seq, confirmed: false)
        session.touch()
    }

    /// A replay page the fan-out no longer holds in memory: the store read runs in a task, and
    /// its events are written back on this loop before polling goes on.
    private func readStore(on context: ChannelHandlerContext) {
        storeReading = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        session.readPage { outcome in
            loop.execute { bound.value.storeRead(outcome) }
        }
    }

    /// Where ``readStore(on:)``'s page comes back, on this loop.
    private func storeRead(_ outcome: Result<(Session.Interruption?, [Event]), any Error>) {
        storeReading = false
        guard case .streaming = phase, let context else { return }
        switch outcome {
        case .success((.gap(let gap)?, _)):
            write(ByteBuffer(bytes: Self.gapEvent(gap)), on: context)
        case .success((nil, let page)):
            events = page
            do {
                try writeEvents(on: context)
            } catch {
                fail(error)
                return
            }
        case .failure(let error as RelayError):
            fail(error)
            return
        case .failure(let error):
            end(reason: "reading the replay failed: \(error)", closing: true)
            return
        }
        drain()
    }

    /// Writes a `: heartbeat` comment when nothing was written for a heartbeat interval, so that
    /// proxies do not close an idle stream; one timer per stream, moved on by what was written.
    private func armHeartbeat(at deadline: NIODeadline) {
        guard let context else { return }
        heartbeat = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard case .streaming = phase, let context = self.context else { return }
            let due = lastWrite + heartbeatInterval
            if due <= .now() {
                // A client that is not reading has bytes pending already; no comment is needed.
                if context.channel.isWritable {
                    write(Self.heartbeatComment, on: context)
                    context.flush()
                }
                armHeartbeat(at: .now() + heartbeatInterval)
            } else {
                armHeartbeat(at: due)
            }
        }
    }

    /// The stream ends with a `tether.error` event naming why.
    private func fail(_ error: RelayError) {
        var frame = JSONWriter()
        frame.raw("event: tether.error\ndata: {\"code\":")
        frame.string(error.code.rawValue)
        frame.raw(",\"message\":")
        frame.string(error.message)
        frame.raw("}\n\n")
        end(reason: error.message, closing: true, farewell: ByteBuffer(bytes: frame.bytes))
    }

    /// Ends the stream once: closes the session with `reason` and releases the connection slot;
    /// when `closing`, writes `farewell` and the response's last chunk, then closes the connection.
    private func end(reason: String, closing: Bool, farewell: ByteBuffer? = nil) {
        if case .ended = phase { return }
        let wasStreaming = if case .streaming = phase { true } else { false }
        phase = .ended
        heartbeat?.cancel()
        heartbeat = nil
        session.close(reason: reason)
        ticket.release()
        guard closing, let context, context.channel.isActive else { return }
        guard wasStreaming, context.channel.isWritable else {
            context.close(promise: nil)
            return
        }
        if let farewell { context.write(wrapOutboundOut(.body(farewell)), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: Records

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
