import Hummingbird
import Logging
import ServiceLifecycle
import TetherCore

/// One SSE connection: writes the welcome, then whatever the session delivers, with heartbeats
/// while idle, until the client goes away, the session ends, or the relay shuts down.
struct SSEStream: Sendable {
    let session: Session
    let configuration: SSETransport.Configuration
    let logger: Logger

    func run(_ writer: inout any ResponseBodyWriter) async {
        var reason = "client went away"
        do {
            try await writer.write(ByteBuffer(bytes: welcome()))
            var buffer: [Event] = []
            buffer.reserveCapacity(256)
            let heartbeat = Duration.milliseconds(Int64(configuration.heartbeatInterval * 1000))
            while !Task.isCancelled {
                buffer.removeAll(keepingCapacity: true)
                switch try await nextOrHeartbeat(&buffer, after: heartbeat) {
                case .heartbeat:
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                case .gap(let gap):
                    try await writer.write(ByteBuffer(bytes: Self.gapEvent(gap)))
                case .events:
                    var frame = JSONWriter(capacity: buffer.reduce(0) { $0 + $1.data.count + 64 })
                    for event in buffer { Self.append(event, epoch: session.welcome.epoch, to: &frame) }
                    try await writer.write(ByteBuffer(bytes: frame.bytes))
                    // Written to the socket: enough to move the window (see SSETransport), not to
                    // move the client's resume position.
                    try session.ack(buffer[buffer.count - 1].seq, confirmed: false)
                    session.touch()
                }
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
            // Cancelled by graceful shutdown, or because the client hung up (see SSETransport).
            reason = Task.isShuttingDownGracefully ? "the relay is shutting down (the stream was ended)" : "the client closed the connection"
        } catch {
            reason = "stream write failed: \(error)"
        }
        session.close(reason: reason)
        try? await writer.finish(nil)
    }

    enum Step {
        case events
        case gap(Gap)
        case heartbeat
    }

    /// The session's next delivery, or `.heartbeat` when nothing came within `interval`; also
    /// returns (by cancellation) when graceful shutdown starts.
    private func nextOrHeartbeat(_ buffer: inout [Event], after interval: Duration) async throws -> Step {
        let session = self.session
        let result = try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Delivery?.self) { group in
                group.addTask {
                    var events: [Event] = []
                    if case .gap(let gap) = try await session.next(into: &events) { return .gap(gap) }
                    return .events(events)
                }
                group.addTask {
                    try await Task.sleep(for: interval)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
        switch result {
        case .events(let events)?:
            buffer.append(contentsOf: events)
            return .events
        case .gap(let gap)?:
            return .gap(gap)
        case nil:
            return .heartbeat
        }
    }

    private enum Delivery: Sendable {
        case events([Event])
        case gap(Gap)
    }

    /// `event: tether.welcome` with the client's identity and what the replay holds.
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

    /// `id:`/`event:`/`data:` lines. The producer's JSON may contain raw newlines only as
    /// white space between tokens (inside strings they are escaped), so each line of it becomes
    /// its own `data:` line, which an SSE client joins back with newlines.
    static func append(_ event: Event, epoch: Epoch, to w: inout JSONWriter) {
        w.raw("id: ")
        w.raw(Array(epoch.rawValue.utf8))
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
    }
}
