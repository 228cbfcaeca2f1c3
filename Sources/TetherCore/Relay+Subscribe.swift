import struct Foundation.Date

/// A subscriber's opening request, whatever transport carried it.
public struct Hello: Sendable, Hashable {
    /// The persistent client id; `nil` asks the relay to assign one.
    public var clientID: String?
    /// The secret the relay issued for `clientID`; required to resume a known id.
    public var resumeToken: String?
    /// The epoch the client's sequence numbers belong to, if it knows it.
    public var epoch: Epoch?
    /// The last sequence the client processed; `nil` for a fresh start.
    public var lastSequence: UInt64?
    /// Newest retained events to send first when not resuming (the seed's `event_history`).
    public var history: Int?
    /// Topics to receive; `nil` or empty for all.
    public var topics: [String]?
    /// A one-shot connection (`tether publish`, `tether status`): its client record lives only
    /// while it is connected, is never saved, and is not counted in `tether_connections` or
    /// `/v1/stats`. It cannot be resumed, so it takes no client id or resume token.
    public var ephemeral = false

    public init(
        clientID: String? = nil, resumeToken: String? = nil, epoch: Epoch? = nil,
        lastSequence: UInt64? = nil, history: Int? = nil, topics: [String]? = nil, ephemeral: Bool = false
    ) {
        self.ephemeral = ephemeral
        self.clientID = clientID
        self.resumeToken = resumeToken
        self.epoch = epoch
        self.lastSequence = lastSequence
        self.history = history
        self.topics = topics
    }
}

/// The relay's answer to a ``Hello``: who the client is, and what it is about to receive.
public struct Welcome: Sendable, Hashable {
    public var clientID: String
    /// The client's resume secret. Sent when the relay bound a new secret to the id.
    public var resumeToken: String?
    public var epoch: Epoch
    public var plan: ReplayPlan
    /// How many events (of the client's topics) the replay holds before live events start.
    public var replayCount: Int
    /// Whether this client id was known and is resuming.
    public var resumed: Bool
}

extension Relay {
    /// Attaches a subscriber: checks its resume secret, plans its replay and returns the session
    /// its transport drives. A refused hello changes nothing of the client's state.
    ///
    /// The work runs in a child task of its own, so a transport may call this from the task that
    /// then serves the connection for its whole life (SSE's request task, a Socket.IO socket's):
    /// a task keeps every slab of async-frame memory it ever used until it ends (the Swift
    /// runtime's task allocator reuses its slabs, it never frees them early), and this path's
    /// frames (store reads, client-record saves, cross-relay claims) would otherwise be held by
    /// every idle subscriber, about 5 KB each (issue 16, measured with heaptrack).
    ///
    /// - Throws: ``RelayError/Code/resumeRefused`` for a known client id without its secret,
    ///   ``RelayError/Code/futureSequence`` for a sequence this epoch never assigned.
    public func subscribe(_ hello: Hello, transport: String, remote: String) async throws(RelayError) -> Session {
        if hello.ephemeral, hello.clientID != nil || hello.resumeToken != nil {
            throw RelayError(RelayError.Code(rawValue: "invalid_hello"), "an ephemeral hello takes no client_id or resume_token: an ephemeral connection leaves no record to resume")
        }
        async let attached = subscribeResult(hello, transport: transport, remote: remote)
        return try await attached.get()
    }

    /// The child task's work: the subscribe, its refusal carried back with its type.
    private func subscribeResult(_ hello: Hello, transport: String, remote: String) async -> Result<Session, RelayError> {
        do throws(RelayError) {
            return .success(try await subscribe(hello, transport: transport, remote: remote, boundElsewhere: false))
        } catch {
            return .failure(error)
        }
    }

    /// `boundElsewhere`: the second try of a hello whose new id turned out to be bound in the
    /// shared store already (now judged as a known id).
    private func subscribe(_ hello: Hello, transport: String, remote: String, boundElsewhere: Bool) async throws(RelayError) -> Session {
        if let id = hello.clientID { try NameRule.check(id, field: "client_id", code: .invalidName) }
        if let token = hello.resumeToken { try NameRule.check(token, field: "resume_token", code: .invalidName) }
        // A subscribed topic is only compared, never stored or printed, and one no event can carry
        // (a control character, which the rule refuses for published topics) receives nothing:
        // `tether publish` and `tether status` subscribe to one. Only its size is bounded.
        for topic in hello.topics ?? [] where topic.isEmpty || topic.utf8.count > NameRule.maxBytes {
            throw RelayError(.invalidName, "a subscribed topic must be 1 to \(NameRule.maxBytes) bytes (got \(topic.utf8.count))")
        }
        let maxTopics = configuration.admission.maxTopicsPerClient
        if maxTopics > 0, let topics = hello.topics, topics.count > maxTopics {
            let error = RelayError(.tooManyTopics, "the subscription names \(topics.count) topics; the limit is \(maxTopics) per client (limits.max-topics-per-client)")
            gate.noteRefusal(error, client: remote)
            throw error
        }
        let time = now()
        let sessionID = makeSessionID()
        try await refreshSharedClient(hello.clientID, transport: transport, remote: remote)
        var state = logState
        var claim = try claimClient(hello, transport: transport, remote: remote, now: time)
        let request: ReplayPlan.Request
        if let last = hello.lastSequence {
            request = .resume(epoch: hello.epoch, lastSequence: last)
        } else if claim.known {
            // A known client that does not say where it is resumes from its acknowledged cursor.
            request = .resume(epoch: claim.record.epoch, lastSequence: claim.record.ackedSeq)
        } else if let count = hello.history, count > 0 {
            request = .history(count: count)
        } else {
            request = .live
        }
        if sharedLog != nil, case .resume(let epoch, let last) = request, epoch == nil || epoch == state.epoch, last > state.head,
            let stored = try? await store.state().head, stored > state.head
        {
            // Another relay's commits may not have reached this relay's view yet (the client
            // comes from there): read up to its sequence before judging it from the future. Never
            // past what the store holds: the client's number is only a claim.
            _ = try? await fanOut.catchUp(to: min(last, stored))
            state = logState
        }
        let plan: ReplayPlan
        do {
            plan = try ReplayPlan.make(for: request, log: state, lagCap: configuration.lagCap)
        } catch {
            clients.emit([Transition(event: .resumeRefused, record: claim.record, sessionID: sessionID, message: "client \(claim.record.id)'s hello refused: \(error.message)", reason: error.message)])
            throw error
        }
        if !claim.known {
            // The record starts where the client starts (the head for a live-only client), so a
            // resume without `last_sequence`, here or on another relay, never replays from 0.
            claim.record.ackedSeq = plan.startAfter
            claim.record.deliveredSeq = plan.startAfter
            // An ephemeral client is never stored, and its relay-assigned id cannot collide.
            if !claim.record.ephemeral, try await !bindShared(claim.record, named: hello.clientID != nil, transport: transport, remote: remote) {
                guard !boundElsewhere else {
                    throw RelayError(.resumeRefused, "client id \(claim.record.id) was just claimed by another connection: resume it with its resume_token, or connect without a client_id to get a new one")
                }
                return try await subscribe(hello, transport: transport, remote: remote, boundElsewhere: true)
            }
        }
        let topics = hello.topics.flatMap { $0.isEmpty ? nil : Set($0) }
        let replayCount = try await countReplay(plan: plan, topics: topics)
        let welcome = Welcome(
            clientID: claim.record.id, resumeToken: claim.issuedToken, epoch: state.epoch,
            plan: plan, replayCount: replayCount, resumed: claim.known
        )
        let session = Session(
            id: sessionID, welcome: welcome, topics: topics, window: configuration.window,
            fanOut: fanOut, clients: clients, counters: counters, histograms: histograms, now: now
        )
        try await attach(session, claim: claim, plan: plan, transport: transport, remote: remote, now: time)
        if let gap = plan.gap { counters.countDropped(gap) }
        counters.replayed.add(UInt64(replayCount), ordering: .relaxed)
        return session
    }

    private struct Claim {
        var record: ClientRecord
        var known: Bool
        var issuedToken: String?
    }

    /// Checks the hello's identity against the client table without changing it.
    private func claimClient(_ hello: Hello, transport: String, remote: String, now time: Date) throws(RelayError) -> Claim {
        let epoch = logState.epoch
        let existing = hello.clientID.flatMap { id in clients.record(id) }
        if let record = existing {
            guard let token = hello.resumeToken, record.secret.matches(token) else {
                counters.resumeRefused.add(1, ordering: .relaxed)
                clients.emit([Transition(event: .resumeRefused, record: record, message: "client \(record.id)'s resume refused over \(transport) from \(remote): the id is bound to a resume secret and the hello did not present it", reason: "the id is bound to a resume secret and the hello did not present it")])
                throw RelayError(.resumeRefused, "client id \(record.id) belongs to another client: resume it with its resume_token, or connect without a client_id to get a new one")
            }
            return Claim(record: record, known: true)
        }
        let id = hello.clientID ?? (hello.ephemeral ? "e-" : "c-") + ResumeSecret.newToken().prefix(24)
        let token = hello.resumeToken ?? ResumeSecret.newToken()
        var record = ClientRecord(id: id, secret: ResumeSecret(token: token), epoch: epoch, transport: transport, remote: remote, now: time)
        record.ephemeral = hello.ephemeral
        return Claim(record: record, known: false, issuedToken: hello.ephemeral ? nil : token)
    }

    /// Binds the session to its client record in the client table (``ClientTable/attach``,
    /// atomically with the identity check), saves a new id durably, ends a displaced session of
    /// the same client and claims the id across relays.
    ///
    /// - Throws: ``RelayError/Code/resumeRefused`` when the id was bound meanwhile by another.
    private func attach(_ session: Session, claim: Claim, plan: ReplayPlan, transport: String, remote: String, now time: Date) async throws(RelayError) {
        let bound = clients.attach(
            session, claimed: claim.record, known: claim.known, plan: plan, epoch: logState.epoch,
            transport: transport, remote: remote, now: time
        )
        guard let (transitions, displaced) = bound else {
            counters.resumeRefused.add(1, ordering: .relaxed)
            clients.emit([Transition(event: .resumeRefused, record: claim.record, sessionID: session.id, message: "client \(claim.record.id)'s hello refused: the id was bound by another connection a moment earlier", reason: "the id was bound by another connection a moment earlier")])
            throw RelayError(.resumeRefused, "client id \(claim.record.id) was just claimed by another connection: resume it with its resume_token, or connect without a client_id to get a new one")
        }
        if claim.known { counters.reconnects.add(1, ordering: .relaxed) }
        if !claim.known, !claim.record.ephemeral, sharedLog == nil, let durable = clientRecords {
            // Bind the new id to its secret durably before the client can rely on it.
            do {
                try await durable.saveClients([claim.record.persisted])
            } catch {
                logger.warning(
                    "could not save a new client record; the next health sweep retries",
                    metadata: [LogKey.clientID: "\(claim.record.id)", "error": "\(error)"]
                )
            }
        }
        displaced?.end(RelayError(.superseded, "this client id connected again elsewhere; this connection is closed"))
        clients.emit(transitions)
        if !claim.record.ephemeral { await claimAcrossRelays(session) }
    }

    /// Binds a new id in a shared store before it is welcomed (a compare-and-set: the first
    /// relay to bind an id wins). Returns `false` when the store holds the id under another
    /// secret already; that record is then in the client table, for the hello to be judged again.
    ///
    /// - Throws: ``RelayError/Code/identityUnavailable`` when the store cannot be reached and
    ///   the client chose the id (`named`); a relay-assigned id cannot collide, so it is welcomed
    ///   and saved by a later flush.
    private func bindShared(_ record: ClientRecord, named: Bool, transport: String, remote: String) async throws(RelayError) -> Bool {
        guard sharedLog != nil, let durable = clientRecords else { return true }
        let stored: PersistedClient
        do {
            stored = try await durable.bindClient(record.persisted)
        } catch {
            guard named else {
                logger.warning(
                    "could not save a new client record; the next save retries",
                    metadata: [LogKey.clientID: "\(record.id)", "error": "\(error)"]
                )
                return true
            }
            logger.warning(
                "refused client \(record.id) over \(transport) from \(remote): the shared store is unreachable, so its new id cannot be bound; the client retries",
                metadata: [LogKey.clientID: "\(record.id)", LogKey.transport: "\(transport)", LogKey.remote: "\(remote)", "error": "\(error)"]
            )
            throw RelayError.identityUnavailable(record.id, error)
        }
        guard stored.secretDigest == record.secret.digest else {
            clients.adopt(stored)
            return false
        }
        return true
    }

    /// Counts the replay's events of the session's topics (bounded by the lag cap).
    private func countReplay(plan: ReplayPlan, topics: Set<String>?) async throws(RelayError) -> Int {
        guard plan.head > plan.startAfter else { return 0 }
        guard let topics else { return Int(plan.head - plan.startAfter) }
        var position = plan.startAfter
        var count = 0
        while position < plan.head {
            let (_, events) = try await events(after: position, limit: 1024)
            guard let last = events.last else { break }
            count += events.lazy.filter { $0.seq <= plan.head && topics.contains($0.topic) }.count
            position = last.seq
        }
        return count
    }
}
