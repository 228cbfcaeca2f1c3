public import TetherCore
import Foundation

/// What a ``TetherClient`` hands its consumer, in the order the relay sent it.
public enum ClientEvent: Sendable, Hashable {
    /// A connection reached `welcome` (what the replay holds comes next).
    case welcome(WelcomeInfo)
    case event(ReceivedEvent)
    /// Events the client was owed and will not get (lag cap, TTL, eviction).
    case gap(Gap)
    /// The relay's log is not the one the client's sequence numbers came from: start over.
    case reset(epoch: String)
}

/// A point-in-time view of a client's connection, for status lines and dashboards.
public struct ClientMetrics: Sendable, Hashable {
    public var state: ConnectionState
    public var clientID: String?
    public var epoch: String?
    /// The newest sequence delivered to the consumer, and the newest acknowledged.
    public var lastDelivered: UInt64
    public var lastAcked: UInt64
    public var received: UInt64
    public var duplicatesDropped: UInt64
    public var reconnects: Int
    public var rttSeconds: Double?
    /// The client-side quality score in [0, 1] (the core's ``QualityScore`` from this side).
    public var quality: Double
    public var pendingPublishes: Int
}

/// A Tether client: one logical subscription (and producer) over a sequence of WebSocket
/// connections. It connects, resumes with its saved identity and position, retries with
/// backoff, pings, acknowledges, drops duplicates by sequence number, and buffers publishes
/// while offline.
///
/// Ownership: all mutable state is isolated to this actor. Each connection runs a reader and a
/// writer outside it; the writer drains an ordered stream of frames the actor fills, so frames
/// leave in the order the actor produced them.
public actor TetherClient {
    /// Welcome, events, gaps and resets, in order. Ends when the client stops or fails.
    public nonisolated let events: AsyncStream<ClientEvent>
    /// Every state change (`connecting`, `connected`, `disconnected`, `reconnecting`, `failed`).
    public nonisolated let states: AsyncStream<ConnectionState>
    let eventSink: AsyncStream<ClientEvent>.Continuation
    let stateSink: AsyncStream<ConnectionState>.Continuation
    public nonisolated let configuration: TetherClientConfiguration

    var resume: ResumeState
    var state: ConnectionState = .disconnected
    /// The current connection's outbound frames, while one is open.
    var link: AsyncStream<[UInt8]>.Continuation?
    var welcomed = false
    var stopped = false
    /// The last close or error the relay gave, for the `failed` explanation.
    public internal(set) var lastError: String?

    /// Dedup and ack bookkeeping: the newest seq handed to the consumer, the newest it processed,
    /// the newest ack sent, and the newest seq the relay sent on this connection.
    var lastDelivered: UInt64
    var processed: UInt64
    var ackSent: UInt64 = 0
    var connectionDelivered: UInt64 = 0
    var ackScheduled = false
    var unacked: [UInt64] = []
    var lastSaved = ContinuousClock.now

    struct PendingPublish {
        var id: String
        var frame: [UInt8]
        var continuation: CheckedContinuation<UInt64, any Error>
    }
    var pending: [PendingPublish] = []
    var statsWaiters: [CheckedContinuation<[UInt8], any Error>] = []

    // Quality inputs.
    var received: UInt64 = 0
    var ackedEvents: UInt64 = 0
    var duplicates: UInt64 = 0
    var reconnectTimes: [ContinuousClock.Instant] = []
    var rttSeconds: Double?
    var pingsSent: [UInt64: ContinuousClock.Instant] = [:]
    var nextPingID: UInt64 = 0
    let firstSeen = ContinuousClock.now
    var connectedSince: ContinuousClock.Instant?
    var connectedTotal: Duration = .zero
    var lastReceived = ContinuousClock.now

    /// - Throws: ``TetherClientError`` if `configuration.stateFile` exists but is unreadable.
    public init(configuration: TetherClientConfiguration) throws(TetherClientError) {
        var configuration = configuration
        configuration.url = RelayURL.normalize(configuration.url)
        if let host = Self.tlsIPHost(configuration.url) {
            throw TetherClientError(
                .badConfiguration,
                "\(configuration.url) names the IP address \(host); TLS (SNI and certificate checks here) needs a host name, so use one the relay's certificate names (e.g. wss://localhost:PORT/v1/ws)"
            )
        }
        self.configuration = configuration
        var resume = try configuration.stateFile.map { path throws(TetherClientError) in try ResumeState.load(from: path) } ?? ResumeState()
        if resume.clientID == nil { resume.clientID = configuration.clientID }
        self.resume = resume
        self.lastDelivered = resume.lastSequence ?? 0
        self.processed = resume.lastSequence ?? 0
        (events, eventSink) = AsyncStream.makeStream(of: ClientEvent.self)
        (states, stateSink) = AsyncStream.makeStream(of: ConnectionState.self)
    }

    /// The host of a `wss://` URL when it is an IP address literal (which NIOSSL will not verify).
    static func tlsIPHost(_ url: String) -> String? {
        guard url.lowercased().hasPrefix("wss://") else { return nil }
        let authority = url.dropFirst(6).prefix { $0 != "/" && $0 != "?" }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])  // IPv6
        }
        let host = authority.split(separator: ":", maxSplits: 1).first ?? authority
        let isIPv4 = host.split(separator: ".", omittingEmptySubsequences: false).count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        return isIPv4 ? String(host) : nil
    }

    /// Connects and keeps reconnecting until ``stop()`` or until the backoff policy gives up
    /// (or the relay closes with a "do not reconnect" code); then `failed`, and both streams end.
    public func run() async {
        var attempt = 0
        move(to: .connecting)
        while !stopped {
            let outcome = await connectOnce()
            if stopped { break }
            if outcome.welcomed { attempt = 0 }
            if let code = outcome.closeCode {
                let rule = CloseCodeTable.rule(for: code)
                if !rule.action.reconnects {
                    lastError = "relay closed with \(code): \(rule.text)" + (lastError.map { " (\($0))" } ?? "")
                    move(to: rule.action == .stop ? .disconnected : .failed)
                    break
                }
                applyBeforeReconnect(rule)
            }
            attempt += 1
            if attempt > configuration.backoff.maxAttempts {
                lastError = "gave up after \(configuration.backoff.maxAttempts) reconnect attempts" + (lastError.map { "; last: \($0)" } ?? "")
                move(to: .failed)
                break
            }
            move(to: .reconnecting)
            let delay = configuration.backoff.delay(attempt: attempt, random: configuration.random())
            do {
                try await configuration.sleep(delay)
            } catch {
                break
            }
        }
        if !stopped, state != .failed { move(to: .disconnected) }
        let error = TetherClientError(.notConnected, lastError ?? "the client stopped")
        for publish in pending { publish.continuation.resume(throwing: error) }
        pending.removeAll()
        failStatsWaiters(error)
        saveState(force: true)
        eventSink.finish()
        stateSink.finish()
    }

    /// Closes the connection and ends ``run()``; the saved state keeps the position.
    public func stop() {
        stopped = true
        flushAck()
        link?.finish()
        if state != .failed { move(to: .disconnected) }
    }

    /// Whether the client dials again by itself after `closeCode`: the shared ``CloseCodeTable``
    /// (`docs/PROTOCOL.md`), which the relay and the dashboard follow too.
    public static func reconnects(after closeCode: Int) -> Bool {
        CloseCodeTable.rule(for: closeCode).action.reconnects
    }

    /// What the table says to change before dialling again: forget the refused position (4501)
    /// or the refused identity (4503), and with it the duplicate filter's place in the old log.
    func applyBeforeReconnect(_ rule: CloseCodeRule) {
        switch rule.action {
        case .reconnectWithoutPosition:
            resume.epoch = nil
        case .reconnectAsNewClient:
            resume = ResumeState()
        default:
            return
        }
        lastError = rule.text
        processed = 0
        lastDelivered = 0
        unacked.removeAll()
        saveState(force: true)
    }

    // MARK: Consumer side

    /// Marks every event up to `seq` processed (cumulative). Acks are coalesced on the wire.
    public func ack(_ seq: UInt64) {
        let through = min(seq, lastDelivered)
        guard through > processed else { return }
        processed = through
        while let first = unacked.first, first <= through {
            unacked.removeFirst()
            ackedEvents += 1
        }
        if processed - ackSent >= UInt64(configuration.ackBatch) {
            flushAck()
        } else if !ackScheduled {
            ackScheduled = true
            let delay = configuration.ackDelay
            Task { [weak self] in
                try? await Task.sleep(for: delay)
                await self?.flushAck()
            }
        }
    }

    /// Publishes one event (`data` must be one JSON value) and returns its sequence number once
    /// the relay accepted it. While offline the publish waits in the outbound buffer and is sent,
    /// in order, after the next welcome; a retry never duplicates (the producer `id` is
    /// generated when not given).
    ///
    /// - Throws: ``TetherClientError`` `bufferFull`, `notConnected` (stopped or failed), or
    ///   `refused` with the relay's code (`invalid_event`, `too_large`, ...).
    public func publish(topic: String, data: [UInt8], id: String? = nil) async throws -> UInt64 {
        guard !stopped, state != .failed else { throw TetherClientError(.notConnected, lastError ?? "the client is stopped") }
        guard pending.count < configuration.outboundBufferLimit else {
            throw TetherClientError(.bufferFull, "\(pending.count) publishes are waiting for the relay already (outboundBufferLimit); retry when connected")
        }
        let id = id ?? UUID().uuidString
        var json = JSONWriter(capacity: 64 + topic.utf8.count + data.count)
        json.raw("{\"type\":\"publish\",\"topic\":")
        json.string(topic)
        json.raw(",\"id\":")
        json.string(id)
        json.raw(",\"data\":")
        json.raw(data)
        json.raw("}")
        let frame = json.bytes
        return try await withCheckedThrowingContinuation { continuation in
            pending.append(PendingPublish(id: id, frame: frame, continuation: continuation))
            if welcomed { link?.yield(frame) }
        }
    }

    /// The relay's stats (`{"type":"stats"}`), as the JSON bytes of its `data`.
    public func stats() async throws -> [UInt8] {
        guard welcomed, let link else { throw TetherClientError(.notConnected, "not connected to the relay") }
        return try await withCheckedThrowingContinuation { continuation in
            statsWaiters.append(continuation)
            link.yield(Array(#"{"type":"stats"}"#.utf8))
        }
    }

    public var metrics: ClientMetrics {
        let now = ContinuousClock.now
        let window = Duration.seconds(900)
        let connected = connectedTotal + (connectedSince.map { now - $0 } ?? .zero)
        let quality = QualityScore.compute(
            QualityScore.Inputs(
                recentReconnects: reconnectTimes.filter { now - $0 < window }.count,
                delivered: received, acked: ackedEvents, overdue: 0,
                connectedSeconds: BackoffPolicy.seconds(connected), knownSeconds: BackoffPolicy.seconds(now - firstSeen),
                silentSeconds: BackoffPolicy.seconds(now - lastReceived),
                staleTimeout: BackoffPolicy.seconds(configuration.staleTimeout), rttSeconds: rttSeconds
            )
        )
        return ClientMetrics(
            state: state, clientID: resume.clientID, epoch: resume.epoch, lastDelivered: lastDelivered,
            lastAcked: processed, received: received, duplicatesDropped: duplicates,
            reconnects: reconnectTimes.count, rttSeconds: rttSeconds, quality: quality, pendingPublishes: pending.count
        )
    }

    /// The identity and position the client would resume with now.
    public var resumeState: ResumeState {
        var state = resume
        state.lastSequence = resume.epoch == nil ? nil : processed
        return state
    }

    // MARK: State

    func move(to next: ConnectionState) {
        guard next != state else { return }
        if state == .connected, let since = connectedSince {
            connectedTotal += ContinuousClock.now - since
            connectedSince = nil
        }
        if next == .connected { connectedSince = .now }
        if state == .connecting || state == .connected, next == .reconnecting {
            // Say the connection was lost before saying we are trying again.
            state = .disconnected
            stateSink.yield(.disconnected)
        }
        state = next
        stateSink.yield(next)
    }

    func flushAck() {
        ackScheduled = false
        let through = min(processed, connectionDelivered)
        guard welcomed, through > ackSent, let link else { return }
        var json = JSONWriter(capacity: 40)
        json.raw("{\"type\":\"ack\",\"seq\":")
        json.number(through)
        json.raw("}")
        link.yield(json.bytes)
        ackSent = through
        saveState(force: false)
    }

    func saveState(force: Bool) {
        guard let path = configuration.stateFile else { return }
        let now = ContinuousClock.now
        guard force || now - lastSaved >= .milliseconds(250) else { return }
        lastSaved = now
        do {
            try resumeState.save(to: path)
        } catch {
            lastError = "could not save state to \(path): \(error)"
        }
    }

    func failStatsWaiters(_ error: any Error) {
        for waiter in statsWaiters { waiter.resume(throwing: error) }
        statsWaiters.removeAll()
    }
}
