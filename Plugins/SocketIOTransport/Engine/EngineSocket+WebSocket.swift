import NIOCore
import NIOWebSocket

/// Writing a session's packets to its WebSocket: from a job on the channel's event loop,
/// scheduled when packets are queued, not from a writer task woken per packet (issue 16: that
/// task was one hop per wake, and a task held for the connection's life).
///
/// One job writes everything queued, each packet its own frame as Engine.IO requires, with one
/// flush. While the channel is not writable (the client reads slower than events come) packets
/// stay queued, up to the session's high-water mark where ``EngineSocket/send(_:untilWritten:)``
/// waits; the channel's ``FlushCoalescingHandler`` schedules the next job when it is writable
/// again. The frames enter the pipeline at its tail, as WSCore's own writes (its pongs and the
/// close frame) do, so the two keep the order they are made in.
extension EngineSocket {
    /// From now on `channel` carries the session: what is queued (packets that waited out a
    /// probe) and everything queued later is written to it. Call once the WebSocket has the
    /// session (at its `open`, or after the client's `upgrade`).
    func attach(_ channel: any Channel) async throws {
        try await channel.eventLoop.submit { [self] in
            let coalescer = try channel.pipeline.syncOperations.handler(type: FlushCoalescingHandler.self)
            coalescer.onWritable = { [weak self] in self?.scheduleWebSocketWrite() }
        }.get()
        state.withLock { $0.webSocket = channel }
        scheduleWebSocketWrite()
    }

    /// Schedules the WebSocket's writer job unless one is pending (or there is no WebSocket, or
    /// nothing to write).
    func scheduleWebSocketWrite() {
        let channel = state.withLock { state -> (any Channel)? in
            guard let channel = state.webSocket, !state.webSocketWriteScheduled, !state.queue.isEmpty else { return nil }
            state.webSocketWriteScheduled = true
            return channel
        }
        guard let channel else { return }
        channel.eventLoop.execute { [self] in writeToWebSocket(channel) }
    }

    /// The writer job: every queued packet to the channel, one flush.
    private func writeToWebSocket(_ channel: any Channel) {
        let packets = state.withLock { state -> [EnginePacket] in
            state.webSocketWriteScheduled = false
            guard state.closed == nil, channel.isWritable else { return [] }
            let taken = take(&state, upTo: .max)
            state.written += UInt64(taken.count)
            return taken
        }
        guard !packets.isEmpty else { return }
        let pipeline = channel.pipeline.syncOperations
        for packet in packets {
            pipeline.write(NIOAny(Self.frame(packet, allocator: channel.allocator)), promise: nil)
        }
        pipeline.flush()
        closeIfSaidAll()
        wakeSenders()
    }

    /// Room left in front of a frame's payload for its header (at most 10 bytes from a server:
    /// no mask), which NIO's frame encoder then writes in place instead of into a buffer of its
    /// own: one allocation and one `writev` element less per packet.
    static let frameHeaderRoom = 10

    private static func frame(_ packet: EnginePacket, allocator: ByteBufferAllocator) -> WebSocketFrame {
        var data = allocator.buffer(capacity: frameHeaderRoom + 1 + packet.payload.count)
        data.moveWriterIndex(forwardBy: frameHeaderRoom)
        data.moveReaderIndex(forwardBy: frameHeaderRoom)
        if packet.isBinary {
            data.writeBytes(packet.payload)
            return WebSocketFrame(fin: true, opcode: .binary, data: data)
        }
        data.writeInteger(UInt8(ascii: "0") + packet.kind.rawValue)
        data.writeBytes(packet.payload)
        return WebSocketFrame(fin: true, opcode: .text, data: data)
    }
}
