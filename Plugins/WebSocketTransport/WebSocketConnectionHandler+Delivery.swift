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

    /// Schedules a drain, once however many wakes arrive before it runs.
    func scheduleDrain() {
        guard !drainScheduled else { return }
        drainScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            drainScheduled = false
            drain()
        }
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
        Task {
            var page: [Event] = []
            let outcome: Result<Session.Interruption?, any Error>
            do {
                outcome = .success(try await session.next(into: &page))
            } catch {
                outcome = .failure(error)
            }
            let events = page
            loop.execute {
                let handler = bound.value
                handler.storeReading = false
                switch outcome {
                case .success(.some(.gap(let gap))):
                    handler.send(RelayFrame.gap(gap), flush: false)
                case .success(.none):
                    handler.events = events
                    handler.writeEvents()
                case .failure(let error as RelayError):
                    if error.code != .closed { handler.fail(error) }
                    return
                case .failure:
                    return
                }
                handler.drain()
            }
        }
    }

    /// Writes `events` as `events` frames (batching clients) or one `event` frame each, without
    /// flushing.
    func writeEvents() {
        if batching {
            var index = events.startIndex
            while index < events.endIndex {
                json.bytes.removeAll(keepingCapacity: true)
                json.raw("{\"type\":\"events\",\"events\":[")
                json.event(events[index])
                index += 1
                while index < events.endIndex, json.bytes.count + events[index].data.count < Self.batchFrameBytes {
                    json.raw(",")
                    json.event(events[index])
                    index += 1
                }
                json.raw("]}")
                send(json.bytes, flush: false)
            }
            return
        }
        for event in events {
            json.bytes.removeAll(keepingCapacity: true)
            json.event(event, prefix: "\"type\":\"event\",")
            send(json.bytes, flush: false)
        }
    }
}
