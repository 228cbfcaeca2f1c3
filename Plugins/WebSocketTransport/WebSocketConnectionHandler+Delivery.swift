import NIOCore
import NIOWebSocket
import TetherCore

/// Delivery: the session's events to the socket, from the connection's event loop.
///
/// A wake (an append, an ack that freed the window, writability coming back) schedules one drain.
/// The drain polls the session while the channel is writable, writes every frame it gets
/// (replay, live events, a `gap` before the events that follow one) and flushes once at the end:
/// one syscall for everything that was ready, however many subscribers share the loop.
extension WebSocketConnectionHandler {
    /// An `events` frame takes more events while it is smaller than this (one event may exceed it).
    static let batchFrameBytes = 64 << 10
    /// Polls per drain before the loop is given back to other connections (the drain continues
    /// in a job scheduled behind them).
    static let pollsPerDrain = 16

    /// Schedules a drain, once however many wakes arrive before it runs: at once, or, with a
    /// write delay and a drain less than that long ago, with the loop's next batch of deferred
    /// drains (``DeferredDrains``), so that the events of several wakes share one write.
    func scheduleDrain() {
        guard !drainScheduled else { return }
        drainScheduled = true
        if let deferred = deferredDrains {
            let now = NIODeadline.now()
            if now - lastDrain < deferred.delay {
                deferred.add(self)
                return
            }
        }
        context.eventLoop.assumeIsolated().execute { [self] in
            runScheduledDrain()
        }
    }

    /// The drain `scheduleDrain` promised.
    func runScheduledDrain() {
        drainScheduled = false
        if deferredDrains != nil { lastDrain = .now() }
        drain()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { scheduleDrain() }
        context.fireChannelWritabilityChanged()
    }

    /// Writes what the session has for the client while the channel takes it, then flushes.
    func drain() {
        guard case .streaming(let session) = phase, !storeReading, let onChange else {
            context.flush()
            return
        }
        var polls = 0
        while context.channel.isWritable {
            polls += 1
            guard polls <= Self.pollsPerDrain else {
                scheduleDrain()
                break
            }
            events.removeAll(keepingCapacity: true)
            let poll: Session.Poll
            do {
                poll = try session.poll(into: &events, onChange: onChange)
            } catch {
                if error.code != .closed { fail(error) }
                return
            }
            switch poll {
            case .delivered:
                writeEvents()
            case .interrupted(.gap(let gap)):
                send(RelayFrame.gap(gap), flush: false)
            case .waiting:
                context.flush()
                return
            case .needsStoreRead:
                readStore(session)
                context.flush()
                return
            }
        }
        // Not writable: `channelWritabilityChanged` drains again when the client has read.
        context.flush()
    }

    /// A replay page the fan-out no longer holds in memory: the store read runs in a task, and
    /// its events are written back on this loop before polling goes on.
    private func readStore(_ session: Session) {
        storeReading = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        session.readPage { outcome in
            loop.execute { bound.value.storeRead(outcome) }
        }
    }

    /// Where ``readStore(_:)``'s page comes back, on this loop.
    private func storeRead(_ outcome: Result<(Session.Interruption?, [Event]), any Error>) {
        storeReading = false
        switch outcome {
        case .success((.gap(let gap)?, _)):
            send(RelayFrame.gap(gap), flush: false)
        case .success((nil, let page)):
            events = page
            writeEvents()
        case .failure(let error as RelayError):
            if error.code != .closed { fail(error) }
            return
        case .failure:
            return
        }
        drain()
    }

    /// Writes `events` as `events` frames (batching clients) or one `event` frame each, without
    /// flushing. Each event's encoding is shared with every other subscriber on this loop
    /// (``LoopEncodings``); only the `events` frame around them is this connection's own.
    func writeEvents() {
        guard !closeSent else { return }
        guard batching else {
            for event in events {
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: encodings.frame(event))), promise: nil)
            }
            return
        }
        let head: StaticString = "{\"type\":\"events\",\"events\":["
        var index = events.startIndex
        while index < events.endIndex {
            // The elements of one frame, in a buffer the connection reuses (no array per frame).
            objects.removeAll(keepingCapacity: true)
            objects.append(encodings.object(events[index]))
            var size = head.utf8CodeUnitCount + 2 + objects[0].readableBytes
            index += 1
            while index < events.endIndex {
                let object = encodings.object(events[index])
                guard size + 1 + object.readableBytes < Self.batchFrameBytes else { break }
                objects.append(object)
                size += 1 + object.readableBytes
                index += 1
            }
            var frame = context.channel.allocator.buffer(capacity: size)
            frame.writeStaticString(head)
            for (position, object) in objects.enumerated() {
                if position > 0 { frame.writeInteger(UInt8(ascii: ",")) }
                frame.writeImmutableBuffer(object)
            }
            frame.writeStaticString("]}")
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: frame)), promise: nil)
        }
    }
}
