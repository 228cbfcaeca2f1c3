import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import TetherCore

extension TetherClient {
    /// The parts of one connection, to tell which ended first.
    enum ConnectionTask: Sendable {
        case writer, heartbeat, reader
    }

    struct ConnectionOutcome {
        var welcomed: Bool
        var closeCode: Int?
    }

    /// One connection, from TCP connect to close: hello, then the relay's frames until either
    /// side ends it.
    func connectOnce() async -> ConnectionOutcome {
        welcomed = false
        connectionDelivered = 0
        var logger = Logger(label: "tether.client")
        logger.logLevel = .critical
        var wsConfiguration = WebSocketClientConfiguration(maxFrameSize: configuration.maxFrameBytes, autoPing: .disabled)
        wsConfiguration.closeTimeout = .seconds(2)
        let maxBytes = configuration.maxFrameBytes
        let client = WebSocketClient(url: configuration.url, configuration: wsConfiguration, tlsConfiguration: configuration.tls, logger: logger) { inbound, outbound, _ in
            let (frames, sink) = AsyncStream.makeStream(of: [UInt8].self)
            await self.attach(sink)
            // Three tasks: the writer, the heartbeat and the reader. The connection ends when the
            // reader does (the relay closed it) or when the heartbeat gives up on a silent relay;
            // then the reader is cancelled too, so leaving a dead connection never waits for the
            // relay to answer our close frame (WebSocketClient's close timeout bounds the rest).
            await withTaskGroup(of: ConnectionTask.self) { group in
                group.addTask {
                    for await bytes in frames {
                        do {
                            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
                        } catch {
                            break
                        }
                    }
                    try? await outbound.close(.normalClosure, reason: nil)
                    return .writer
                }
                group.addTask {
                    await self.heartbeat()
                    return .heartbeat
                }
                group.addTask {
                    do {
                        for try await message in inbound.messages(maxSize: maxBytes) {
                            guard case .text(let text) = message else { continue }
                            await self.receive(Array(text.utf8))
                        }
                    } catch is CancellationError {
                        // Ended by this client (the heartbeat gave up): lastError says why.
                    } catch {
                        await self.noteError("connection error: \(error)")
                    }
                    return .reader
                }
                while let ended = await group.next(), ended == .writer {}
                await self.detach()
                group.cancelAll()
            }
        }
        do {
            let close = try await client.run()
            let wasWelcomed = welcomed
            detach()
            return ConnectionOutcome(welcomed: wasWelcomed, closeCode: close.map { Self.number($0.closeCode) })
        } catch {
            let wasWelcomed = welcomed
            detach()
            lastError = RelayURL.describe(error, url: configuration.url)
            return ConnectionOutcome(welcomed: wasWelcomed, closeCode: nil)
        }
    }

    static func number(_ code: WebSocketErrorCode) -> Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: code)
        return Int(buffer.readInteger(as: UInt16.self) ?? 1006)
    }

    func noteError(_ message: String) { lastError = message }

    private func attach(_ sink: AsyncStream<[UInt8]>.Continuation) {
        link = sink
        lastReceived = .now
        var json = JSONWriter(capacity: 256)
        // `batch`: several events per frame, far fewer writes on both sides (docs/PROTOCOL.md).
        json.raw("{\"type\":\"hello\",\"batch\":true")
        if configuration.ephemeral {
            json.raw(",\"ephemeral\":true")
        } else if let id = resume.clientID {
            json.raw(",\"client_id\":")
            json.string(id)
        }
        if !configuration.ephemeral, let token = resume.resumeToken {
            json.raw(",\"resume_token\":")
            json.string(token)
        }
        if let epoch = resume.epoch {
            json.raw(",\"epoch\":")
            json.string(epoch)
            json.raw(",\"last_sequence\":")
            json.number(processed)
        }
        if !configuration.topics.isEmpty {
            json.raw(",\"topics\":[")
            for (index, topic) in configuration.topics.enumerated() {
                if index > 0 { json.raw(",") }
                json.string(topic)
            }
            json.raw("]")
        }
        if let history = configuration.history, resume.epoch == nil {
            json.raw(",\"history\":")
            json.number(history)
        }
        json.raw("}")
        sink.yield(json.bytes)
        if stopped { sink.finish() }
    }

    func detach() {
        guard let link else { return }
        link.finish()
        self.link = nil
        if welcomed {
            reconnectTimes.append(.now)
            if reconnectTimes.count > 64 { reconnectTimes.removeFirst() }
        }
        welcomed = false
        pingsSent.removeAll()
        failStatsWaiters(TetherClientError(.notConnected, "the connection closed before the relay answered"))
        if !stopped, state == .connected { move(to: .disconnected) }
        saveState(force: true)
    }

    /// Pings the relay every heartbeat interval; replaces a connection silent for the stale timeout.
    private func heartbeat() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: min(configuration.heartbeatInterval, configuration.staleTimeout / 2))
            } catch {
                return
            }
            guard let link else { return }
            if ContinuousClock.now - lastReceived > configuration.staleTimeout {
                lastError = "no traffic from the relay for \(configuration.staleTimeout); reconnecting"
                link.finish()
                return
            }
            guard welcomed else { continue }
            nextPingID += 1
            pingsSent[nextPingID] = .now
            if pingsSent.count > 8, let oldest = pingsSent.keys.min() { pingsSent[oldest] = nil }
            var json = JSONWriter(capacity: 40)
            json.raw("{\"type\":\"ping\",\"id\":")
            json.number(nextPingID)
            json.raw("}")
            link.yield(json.bytes)
        }
    }

    /// Handles one frame from the relay.
    private func receive(_ bytes: [UInt8]) {
        lastReceived = .now
        guard let frame = ServerFrame.parse(bytes) else {
            lastError = "the relay sent a frame this client cannot read"
            return
        }
        switch frame {
        case .welcome(let info, let token):
            welcome(info, token: token)
        case .event(let event):
            deliver(event)
        case .events(let events):
            for event in events { deliver(event) }
        case .gap(let gap):
            connectionDelivered = max(connectionDelivered, gap.to)
            lastDelivered = max(lastDelivered, gap.to)
            eventSink.yield(.gap(gap))
        case .ping(let id):
            var json = JSONWriter(capacity: 32 + id.count)
            json.raw("{\"type\":\"pong\",\"id\":")
            json.raw(id)
            json.raw("}")
            link?.yield(json.bytes)
        case .pong(let id):
            if let number = UInt64(String(decoding: id, as: UTF8.self)), let sent = pingsSent.removeValue(forKey: number) {
                rttSeconds = BackoffPolicy.seconds(ContinuousClock.now - sent)
            }
        case .published(let id, let seq):
            if let index = pending.firstIndex(where: { $0.id == id }) {
                pending.remove(at: index).continuation.resume(returning: seq)
            }
        case .stats(let data):
            if !statsWaiters.isEmpty { statsWaiters.removeFirst().resume(returning: data) }
        case .error(let code, let message, let id, let close):
            if let id, let index = pending.firstIndex(where: { $0.id == id }) {
                pending.remove(at: index).continuation.resume(throwing: TetherClientError(.refused, message, relayCode: code))
            } else {
                lastError = "\(code): \(message)" + (close.map { " (close \($0))" } ?? "")
            }
        case .other:
            break
        }
    }

    /// Hands one event to the consumer, once: a sequence at or below the newest delivered is a
    /// duplicate (a replay overlapping what arrived before a reconnect) and is dropped.
    private func deliver(_ event: ReceivedEvent) {
        connectionDelivered = max(connectionDelivered, event.seq)
        guard event.seq > lastDelivered else {
            duplicates += 1
            return
        }
        lastDelivered = event.seq
        received += 1
        unacked.append(event.seq)
        eventSink.yield(.event(event))
        if configuration.autoAck { ack(event.seq) }
    }

    private func welcome(_ info: WelcomeInfo, token: String) {
        welcomed = true
        resume.clientID = info.clientID
        if !token.isEmpty { resume.resumeToken = token }
        let start = info.replayFrom &- 1
        if info.reset || (resume.epoch != nil && resume.epoch != info.epoch) {
            if resume.epoch != nil { eventSink.yield(.reset(epoch: info.epoch)) }
            lastDelivered = start
            processed = start
            unacked.removeAll()
        }
        resume.epoch = info.epoch
        processed = max(processed, start)
        lastDelivered = max(lastDelivered, processed)
        ackSent = start
        connectionDelivered = start
        eventSink.yield(.welcome(info))
        if let gap = info.gap { eventSink.yield(.gap(gap)) }
        move(to: .connected)
        saveState(force: true)
        for publish in pending { link?.yield(publish.frame) }
    }
}
