import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization
import TetherCore
import struct Foundation.Date

/// One client's WebSocket connection: the hello handshake, then three tasks around one core
/// `Session` until either side ends it.
///
/// - The **reader** owns the inbound stream: hello, acks, pings, pongs, publishes, stats.
///   Every inbound frame counts as activity.
/// - The **writer** is the session's only caller of `next(into:)`: replay, then live events, and
///   a `gap` frame before the events that follow one. It sends at most the session's window of
///   unacked events, and each write waits for the socket (so a client that stops reading holds
///   the relay to a window of sequence numbers, never a queue of copies).
/// - The **publisher** answers publishes in arrival order, handing every publish waiting at that
///   moment to the relay as one batch, so a producer that pipelines publishes is group-committed
///   instead of paying a store round trip each. At most `maxQueuedPublishes` wait; then the
///   reader stops reading until there is room.
/// - The **pinger** sends `{"type":"ping","id":k}` every ping interval; the reader turns the
///   matching pong into `session.recordPing`.
///
/// Frames from all three go through WSCore's outbound writer, which serialises them. The first
/// task to end (peer closed, protocol error, superseded) ends the others; the session is then
/// closed with the reason. Shared state (`attached`, `pings`, `closed`) is behind locks/atomics.
final class WebSocketConnection: Sendable {
    let relay: Relay
    let configuration: WebSocketTransport.Configuration
    let decoder: PublishRequestDecoder
    /// The bearer token the upgrade request carried; publish frames need it in the produce scope.
    let token: String?
    let outbound: WebSocketOutboundWriter
    /// The peer as `host:port`, for logs and stats.
    let remote: String
    /// The peer's address without its port (``TetherRequestContext/remoteHost``): the key of the
    /// publish rate limit.
    let address: String
    let logger: Logger

    private let attached = Mutex<Session?>(nil)
    private let greeted = Atomic<Bool>(false)
    /// Whether the client's hello asked for `events` frames (set before the writer starts).
    private let batching = Atomic<Bool>(false)
    /// Set once a close frame was sent: nothing is written after it.
    let closed = Atomic<Bool>(false)
    let endReason = Mutex<String?>(nil)
    let pings = Mutex<[UInt64: ContinuousClock.Instant]>([:])
    private let backlog = Mutex<[PublishItem]>([])
    static let maxQueuedPublishes = 1024
    /// An `events` frame takes more events while it is smaller than this (one event may exceed it).
    static let batchFrameBytes = 64 << 10

    /// A publish as the reader decoded it, waiting for the publisher.
    private enum PublishItem: Sendable {
        case draft(EventDraft, id: String?)
        case refused(RelayError, id: String?)
    }

    /// How the reader hands publishes to the publisher, and hears there is room again.
    private struct PublishPipe: Sendable {
        var wake: AsyncStream<Void>.Continuation
        var room: AsyncStream<Void>
    }

    init(
        relay: Relay, configuration: WebSocketTransport.Configuration, decoder: PublishRequestDecoder,
        outbound: WebSocketOutboundWriter, remote: String, address: String, token: String?, logger: Logger
    ) {
        self.address = address
        self.token = token
        self.relay = relay
        self.configuration = configuration
        self.decoder = decoder
        self.outbound = outbound
        self.remote = remote
        self.logger = logger
    }

    private enum Outcome: Sendable {
        case ended
        case keepGoing
    }

    /// Runs the connection until it ends. Never throws: every failure becomes an error frame and
    /// a close code, or is the peer going away.
    func run(inbound: WebSocketInboundStream) async {
        let (writerSessions, toWriter) = AsyncStream.makeStream(of: Session.self)
        let (pingerSessions, toPinger) = AsyncStream.makeStream(of: Session.self)
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (room, roomSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let pipe = PublishPipe(wake: wake, room: room)
        await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                defer {
                    toWriter.finish()
                    toPinger.finish()
                }
                await self.read(inbound, publishes: pipe) { session in
                    toWriter.yield(session)
                    toPinger.yield(session)
                }
                return .ended
            }
            group.addTask {
                for await session in writerSessions {
                    await self.write(session)
                    return .ended
                }
                return .ended
            }
            group.addTask {
                for await session in pingerSessions { await self.ping(session) }
                return .keepGoing
            }
            group.addTask {
                await self.publish(wakes, room: roomSignal)
                return .keepGoing
            }
            group.addTask {
                try? await Task.sleep(for: self.configuration.helloTimeout)
                guard !Task.isCancelled, !self.greeted.load(ordering: .acquiring) else { return .keepGoing }
                await self.fail(RelayError(.helloTimeout, "no hello within \(self.configuration.helloTimeout); send {\"type\":\"hello\"} first"))
                return .ended
            }
            while let outcome = await group.next() {
                if case .ended = outcome { break }
            }
            // Closing the session first wakes a writer waiting for events; then stop the rest.
            attached.withLock { $0 }?.close(reason: endReason.withLock { $0 } ?? "connection closed")
            group.cancelAll()
        }
    }

    // MARK: Reader

    private func read(_ inbound: WebSocketInboundStream, publishes: PublishPipe, attach: (Session) -> Void) async {
        var messages = InboundMessages(inbound, maxBytes: configuration.maxFrameBytes)
        var room = publishes.room.makeAsyncIterator()
        let scanner = JSONScanner(maxDepth: decoder.limits.maxDepth)
        var session: Session?
        do {
            while let message = try await messages.next() {
                greeted.store(true, ordering: .releasing)
                let bytes: [UInt8]
                switch message {
                case .binary:
                    await fail(RelayError(.unsupportedData, "binary frames are not part of the protocol; send JSON text frames"))
                    return
                case .tooLarge(let size):
                    await fail(RelayError(.tooLarge, "a message of \(size) bytes is over the limit of \(configuration.maxFrameBytes) (transport.websocket.max-frame-bytes)"))
                    return
                case .notUTF8:
                    await fail(FrameRules.Violation.notUTF8("a text message").error)
                    return
                case .text(let text):
                    bytes = text
                }
                session?.touch()
                let frame: ClientFrame
                do {
                    frame = try ClientFrame.parse(bytes, scanner: scanner)
                } catch {
                    await fail(error)
                    return
                }
                guard let current = session else {
                    guard case .hello(let hello, let batch) = frame else {
                        await fail(RelayError(.helloRequired, "the first frame must be {\"type\":\"hello\", ...}; see docs/PROTOCOL.md"))
                        return
                    }
                    guard let started = await start(hello) else { return }
                    batching.store(batch, ordering: .releasing)
                    session = started
                    attach(started)
                    continue
                }
                if case .publish(let producerID) = frame {
                    let item: PublishItem
                    do {
                        try relay.gate.authorize(token, for: .produce)
                        item = .draft(try decoder.decode(bytes, format: .json, now: Date())[0], id: producerID)
                    } catch {
                        item = .refused(error, id: producerID)
                    }
                    var queued = backlog.withLock { $0.append(item); return $0.count }
                    publishes.wake.yield()
                    while queued >= Self.maxQueuedPublishes {
                        guard await room.next() != nil else { return }
                        queued = backlog.withLock { $0.count }
                    }
                    continue
                }
                guard await handle(frame, bytes: bytes, session: current) else { return }
            }
            // On graceful shutdown WSCore closes the connection (code 1000) and the inbound stream
            // ends when the client answers: the relay ended it, not the client.
            let reason = Task.isShuttingDownGracefully
                ? "the relay is shutting down (the client was sent close code 1000, normal closure)"
                : "the client closed the connection"
            endReason.withLock { $0 = $0 ?? reason }
        } catch let violation as FrameRules.Violation {
            await fail(violation.error)
        } catch {
            endReason.withLock { $0 = $0 ?? "connection lost: \(error)" }
        }
    }

    /// Subscribes and sends the welcome; on refusal sends the error and the close code.
    private func start(_ hello: Hello) async -> Session? {
        let session: Session
        do {
            session = try await relay.subscribe(hello, transport: "websocket", remote: remote)
        } catch {
            await fail(error)
            return nil
        }
        attached.withLock { $0 = session }
        let welcome = RelayFrame.welcome(
            session.welcome, presentedToken: hello.resumeToken, settings: relay.configuration,
            pingInterval: configuration.pingInterval
        )
        guard await send(welcome) else { return nil }
        return session
    }

    /// Handles one frame after the handshake. Returns `false` when the connection must end.
    private func handle(_ frame: ClientFrame, bytes: [UInt8], session: Session) async -> Bool {
        switch frame {
        case .ack(let seq):
            do {
                try session.ack(seq)
            } catch {
                relay.counters.countRefused(error.code)
                return await send(RelayFrame.error(error))
            }
            return true
        case .ping(let id):
            return await send(RelayFrame.pong(id: id))
        case .echo(let id, let data):
            return await send(RelayFrame.echo(id: id, data: data))
        case .pong(let id):
            let number = UInt64(String(decoding: id, as: UTF8.self))
            if let number, let sent = pings.withLock({ $0.removeValue(forKey: number) }) {
                let elapsed = ContinuousClock.now - sent
                session.recordPing(roundTrip: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            return true
        case .publish:
            return true  // queued by the reader for the publisher
        case .stats:
            do {
                return await send(RelayFrame.stats(try relay.stats().jsonBytes()))
            } catch {
                return await send(RelayFrame.error(RelayError(RelayError.Code(rawValue: "internal"), "stats could not be encoded: \(error)")))
            }
        case .hello:
            await fail(RelayError(.duplicateHello, "this connection already said hello; open a new connection to change identity or position"))
            return false
        case .unknown(let type):
            let error = RelayError(.unknownType, "unknown frame type \"\(type)\"; this relay understands hello, ack, ping, pong, echo, publish, stats")
            relay.counters.countRefused(error.code)
            return await send(RelayFrame.error(error))
        }
    }

    // MARK: Publisher

    private func publish(_ wakes: AsyncStream<Void>, room: AsyncStream<Void>.Continuation) async {
        for await _ in wakes {
            while true {
                let items = backlog.withLock { queue -> [PublishItem] in
                    defer { queue.removeAll(keepingCapacity: true) }
                    return queue
                }
                guard !items.isEmpty else { break }
                room.yield()
                var index = 0
                while index < items.count {
                    if case .refused(let error, let id) = items[index] {
                        relay.counters.countRefused(error.code)
                        guard await send(RelayFrame.error(error, id: id)) else { return }
                        index += 1
                        continue
                    }
                    var drafts: [EventDraft] = []
                    var ids: [String?] = []
                    while index < items.count, case .draft(let draft, let id) = items[index] {
                        drafts.append(draft)
                        ids.append(id)
                        index += 1
                    }
                    do {
                        try relay.gate.admitPublish(events: drafts.count, address: address)
                    } catch {
                        for id in ids {
                            guard await send(RelayFrame.error(error.error, id: id)) else { return }
                        }
                        continue
                    }
                    do {
                        let sequences = try await relay.publish(drafts)
                        for (id, seq) in zip(ids, sequences) {
                            guard await send(RelayFrame.published(id: id, seq: seq)) else { return }
                        }
                    } catch {
                        for id in ids {
                            relay.counters.countRefused(error.code)
                            guard await send(RelayFrame.error(error, id: id)) else { return }
                        }
                    }
                }
            }
        }
    }

    // MARK: Writer

    private func write(_ session: Session) async {
        // Grows to what the client's pace needs (at most a window) and is then reused: an idle
        // subscriber costs no window-sized buffer.
        var buffer: [Event] = []
        var json = JSONWriter(capacity: 512)
        let batch = batching.load(ordering: .acquiring)
        do {
            while true {
                buffer.removeAll(keepingCapacity: true)
                if let interruption = try await session.next(into: &buffer) {
                    switch interruption {
                    case .gap(let gap):
                        guard await send(RelayFrame.gap(gap)) else { return }
                    }
                    continue
                }
                if batch {
                    // One `events` frame per batch (split past batchFrameBytes): one write, and
                    // one syscall, for many deliveries.
                    var index = buffer.startIndex
                    while index < buffer.endIndex {
                        json.bytes.removeAll(keepingCapacity: true)
                        json.raw("{\"type\":\"events\",\"events\":[")
                        json.event(buffer[index])
                        index += 1
                        while index < buffer.endIndex, json.bytes.count + buffer[index].data.count < Self.batchFrameBytes {
                            json.raw(",")
                            json.event(buffer[index])
                            index += 1
                        }
                        json.raw("]}")
                        guard await send(json.bytes) else { return }
                    }
                    continue
                }
                for event in buffer {
                    json.bytes.removeAll(keepingCapacity: true)
                    json.event(event, prefix: "\"type\":\"event\",")
                    guard await send(json.bytes) else { return }
                }
            }
        } catch let error as RelayError {
            if error.code != .closed { await fail(error) }
        } catch {
            // Cancelled: another task ended the connection.
        }
    }
}
