import Logging
import TetherCore

/// The relay's Socket.IO namespace (`/`): each socket is one relay ``Session``.
///
/// On connect it emits `connection_established`, then what the client is owed (one
/// `event_replay` for a seed resume, `event_history` otherwise, or plain `claude_event`s for a
/// stock connection-state recovery), then live `claude_event`s. Every event carries its
/// `sequence`; with recovery on, its `<epoch>:<seq>` offset is the last argument, as stock
/// Socket.IO servers append it. Replay and live come from one session cursor, so nothing is
/// duplicated or reordered at the seam.
///
/// Acknowledgement: an event counts as acknowledged once it is queued on the connection, whose
/// queue is bounded (Engine.IO's `outboundHighWater`): stock clients never acknowledge, and a
/// client that resumes names its own position (`last_sequence` or `offset`) anyway. The seed's
/// `acknowledge_event` is checked and confirmed, but does not hold delivery back.
struct TetherNamespace: SocketIONamespace {
    let relay: Relay
    let configuration: SocketIOTransport.Configuration
    let logger: Logger

    func serve(_ socket: SocketIOSocket) async {
        let auth: TetherAuth
        do {
            auth = try TetherAuth(socket.auth, defaultHistory: configuration.history)
            try authenticate(auth, engine: socket.engine)
        } catch {
            await refuse(socket, error)
            return
        }
        let session: Session
        let hello: Hello
        do {
            (session, hello) = try await subscribe(auth, remote: socket.remote)
        } catch {
            await socket.refuse(error.message, data: Self.errorData(error))
            return
        }
        let welcome = session.welcome
        let token = welcome.resumeToken ?? hello.resumeToken
        var extra: [(String, [UInt8])] = []
        if configuration.recovery, let token {
            extra.append(("pid", SeedEvents.string(TetherAuth.pid(clientID: welcome.clientID, token: token))))
        }
        let recovered = auth.mode == .recovery && welcome.resumed && !welcome.plan.reset
        socket.engine.observePongs { roundTrip in
            session.recordPing(roundTrip: Double(roundTrip.components.seconds) + Double(roundTrip.components.attoseconds) / 1e18)
        }
        var reason = "client disconnected"
        do {
            try await socket.accept(extra: extra)
            try await socket.emit("connection_established", [SeedEvents.established(welcome, token: welcome.resumeToken, socketID: socket.id, recovered: recovered)])
            let leftover = try await sendOwed(auth.mode, session: session, socket: socket, lastSequence: hello.lastSequence)
            reason = await runLive(session: session, socket: socket, pending: leftover)
        } catch {
            reason = "connection closed before the replay was sent"
        }
        session.close(reason: reason)
        logger.debug("socket.io client left", metadata: ["tether.client_id": "\(welcome.clientID)", "reason": "\(reason)"])
    }

    /// Makes sure the session is authenticated: at its handshake (no tokens configured, or a valid
    /// `Authorization: Bearer`), or now by `auth.token`, which moves its slot from the pending
    /// pool to the main one (``HandshakeAdmission``).
    private func authenticate(_ auth: TetherAuth, engine: EngineSocket) throws(RelayError) {
        try relay.gate.authenticate(auth.accessToken, ticket: engine.ticket)
    }

    /// Answers a CONNECT with CONNECT_ERROR. A session that is still unauthenticated is closed
    /// too (and the refusal counted): it may not linger in the pending pool.
    private func refuse(_ socket: SocketIOSocket, _ error: RelayError) async {
        guard let ticket = socket.engine.ticket, !ticket.isAuthenticated else {
            await socket.refuse(error.message, data: Self.errorData(error))
            return
        }
        relay.gate.noteRefusal(error, client: ticket.address)
        let packet = SocketIOPacket.connectError(error.message, data: Self.errorData(error), namespace: socket.namespace)
        socket.engine.closeAfter([.text(packet.encodeHeaderAndPayload())], reason: .serverClosed)
        socket.finish()
    }

    /// Subscribes; a seed client that presents a known `client_id` without its resume secret
    /// (the seed had none) gets a fresh identity that still resumes from its `last_sequence`:
    /// it receives exactly what it missed, but cannot take over the other client's record.
    private func subscribe(_ auth: TetherAuth, remote: String) async throws(RelayError) -> (Session, Hello) {
        var hello = auth.hello
        do {
            return (try await relay.subscribe(hello, transport: "socketio", remote: remote), hello)
        } catch where error.code == .resumeRefused && auth.hello.resumeToken == nil && auth.pid == nil {
            hello.clientID = nil
            logger.info("socket.io client presented a known client_id without its resume_token; connected it under a new id", metadata: ["tether.remote": "\(remote)"])
            return (try await relay.subscribe(hello, transport: "socketio", remote: remote), hello)
        }
    }

    /// Sends what the welcome's plan owes before live delivery: the seed's `event_replay`
    /// and/or `event_history`, or (recovery) nothing special. Returns events read past the
    /// plan's head, which are live and go out next as `claude_event`s.
    private func sendOwed(_ mode: TetherAuth.Mode, session: Session, socket: SocketIOSocket, lastSequence: UInt64?) async throws -> [Event] {
        let plan = session.welcome.plan
        guard mode != .recovery else { return [] }
        var owed: [Event] = []
        var live: [Event] = []
        var gaps: [Gap] = plan.gap.map { [$0] } ?? []
        var buffer: [Event] = []
        buffer.reserveCapacity(relay.configuration.window)
        while session.progress.position < plan.head {
            buffer.removeAll(keepingCapacity: true)
            if case .gap(let gap) = try await session.next(into: &buffer) {
                gaps.append(gap)
                continue
            }
            for event in buffer {
                if event.seq <= plan.head { owed.append(event) } else { live.append(event) }
            }
            // Queued is not received: the window moves, the resume position does not (only the
            // client's own acknowledge_event, last_sequence or offset moves that).
            try session.ack(buffer[buffer.count - 1].seq, confirmed: false)
        }
        let from = plan.startAfter + 1
        if mode == .seedResume {
            try await socket.emit("event_replay", [SeedEvents.batch(owed) { w in
                w.raw(",\"from_sequence\":")
                w.number(lastSequence.map { $0 + 1 } ?? from)
                w.raw(",\"to_sequence\":")
                w.number(plan.head)
                w.raw(",\"reset\":")
                w.raw(plan.reset ? "true" : "false")
                if let gap = gaps.first {
                    w.raw(",\"gap\":")
                    SeedEvents.gap(gap, into: &w)
                }
            }])
            owed = []
        }
        try await socket.emit("event_history", [SeedEvents.batch(owed) { w in
            w.raw(",\"from_sequence\":")
            w.number(from)
            w.raw(",\"to_sequence\":")
            w.number(plan.head)
        }])
        for gap in gaps.dropFirst(mode == .seedResume ? 1 : 0) { try await socket.emit("event_gap", [SeedEvents.gap(gap)]) }
        return live
    }

    /// Live delivery (``LiveDelivery``, on the session's event loop) and the client's requests
    /// (here), until either ends. Returns why.
    private func runLive(session: Session, socket: SocketIOSocket, pending: [Event]) async -> String {
        let requests = SeedRequests(relay: relay, session: session, socket: socket)
        let delivery = LiveDelivery.start(
            session: session, socket: socket, pending: pending,
            offsetEpoch: configuration.recovery ? session.welcome.epoch : nil
        )
        // Delivery that ends by itself finishes the socket, which ends this loop.
        for await event in socket.inbound {
            session.touch()
            await requests.answer(event)
        }
        delivery.cancel()
        socket.finish()
        if let reason = delivery.reason { return reason }
        return socket.engine.isClosed ? "connection closed (\(socket.engine.closeReason?.rawValue ?? "?"))" : "client disconnected"
    }

    static func errorData(_ error: RelayError) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"code\":")
        w.string(error.code.rawValue)
        w.raw("}")
        return w.bytes
    }
}

/// The Socket.IO EVENT packet a subscriber is sent for a relay event,
/// `2[<namespace>,]["claude_event",<event>(,"<epoch>:<seq>")]`, built in one buffer from the
/// event's shared JSON: the bytes `SocketIOPacket.event(...).encodeHeaderAndPayload()` gives,
/// without its argument array, offset string and two intermediate copies per subscriber
/// (issue 16). What does not depend on the event (the head, the escaped epoch) is made once
/// per subscriber, here, not per event. `offsetEpoch` is nil when recovery is off.
struct EventMessage: Sendable {
    private let head: [UInt8]
    /// `,"<epoch>:`, escaped, or nil without recovery.
    private let offsetHead: [UInt8]?

    init(offsetEpoch: Epoch?, namespace: String) {
        var w = JSONWriter(capacity: namespace.utf8.count + 20)
        w.raw("2")
        if namespace != "/" {
            w.raw(Array(namespace.utf8))
            w.raw(",")
        }
        w.raw("[\"claude_event\",")
        head = w.bytes
        offsetHead = offsetEpoch.map { epoch in
            var w = JSONWriter(capacity: epoch.rawValue.utf8.count + 8)
            w.raw(",")
            w.string(epoch.rawValue + ":")
            w.bytes.removeLast()  // the closing quote goes after the sequence number
            return w.bytes
        }
    }

    func bytes(_ event: Event) -> [UInt8] {
        let json = SeedEvents.event(event)
        var w = JSONWriter(capacity: head.count + json.count + (offsetHead?.count ?? 0) + 24)
        w.raw(head)
        w.raw(json)
        if let offsetHead {
            w.raw(offsetHead)
            w.number(event.seq)
            w.raw("\"")
        }
        w.raw("]")
        return w.bytes
    }
}
