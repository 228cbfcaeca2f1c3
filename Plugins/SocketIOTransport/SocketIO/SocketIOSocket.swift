import Synchronization

/// One client's connection to one namespace, as the namespace's code sees it: the `auth`
/// payload of its CONNECT, its inbound events, and ways to answer.
///
/// A namespace must call ``accept(extra:)`` (or ``refuse(_:data:)``) before it emits anything.
/// ``inbound`` finishes when the client leaves the namespace or the Engine.IO session closes.
final class SocketIOSocket: Sendable {
    /// This socket's id, sent in the CONNECT reply.
    let id: String
    let namespace: String
    /// The CONNECT payload as sent (a JSON object), `{}` when there was none.
    let auth: [UInt8]
    let engine: EngineSocket
    let inbound: AsyncStream<SocketIOEvent>
    private let inboundContinuation: AsyncStream<SocketIOEvent>.Continuation
    private let connected = Mutex(false)

    init(namespace: String, auth: [UInt8], engine: EngineSocket) {
        self.id = EngineServer.newSessionID()
        self.namespace = namespace
        self.auth = auth.isEmpty ? Array("{}".utf8) : auth
        self.engine = engine
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: SocketIOEvent.self)
    }

    var remote: String { engine.remote }
    var isConnected: Bool { connected.withLock { $0 } }

    /// Sends the CONNECT reply `{"sid": id, <extra members>}`; `extra` holds `(name, JSON)` pairs.
    func accept(extra: [(String, [UInt8])] = []) async throws(EngineClosedError) {
        var payload = Array("{\"sid\":\"\(id)\"".utf8)
        for (name, value) in extra {
            payload.append(contentsOf: ",\"\(name)\":".utf8)
            payload.append(contentsOf: value)
        }
        payload.append(UInt8(ascii: "}"))
        connected.withLock { $0 = true }
        // The reply goes out alone, before the namespace emits anything, as with the reference
        // server: some clients (the official suite's `ws` 8.x) dispatch every frame of one TCP
        // read synchronously and miss a second frame that arrives glued to the reply. A written
        // WebSocket frame is flushed by its event loop a moment later, hence the short pause.
        try await engine.send([.text(SocketIOPacket(.connect, namespace: namespace, payload: payload).encodeHeaderAndPayload())], untilWritten: true)
        if engine.transport == .websocket { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Sends CONNECT_ERROR and ends the socket.
    func refuse(_ message: String, data: [UInt8]? = nil) async {
        try? await send(.connectError(message, data: data, namespace: namespace))
        finish()
    }

    /// Emits `name` with `arguments` (each already JSON).
    func emit(_ name: String, _ arguments: [[UInt8]], attachments: [[UInt8]] = []) async throws(EngineClosedError) {
        try await send(.event(name, arguments, namespace: namespace, attachments: attachments))
    }

    /// Answers the client's event `id` with `arguments` (each already JSON).
    func acknowledge(_ ackID: UInt64, _ arguments: [[UInt8]], attachments: [[UInt8]] = []) async throws(EngineClosedError) {
        try await send(.ack(ackID, arguments, namespace: namespace, attachments: attachments))
    }

    /// Server-side disconnect from the namespace: sends DISCONNECT and ends the socket.
    func disconnect() async {
        try? await send(SocketIOPacket(.disconnect, namespace: namespace))
        finish()
    }

    /// ``disconnect()`` for a caller on an event loop: queues DISCONNECT without waiting for room.
    func disconnectNow() {
        try? engine.enqueue([.text(SocketIOPacket(.disconnect, namespace: namespace).encodeHeaderAndPayload())])
        finish()
    }

    /// Queues the packet's text part and its attachments together, so nothing interleaves.
    func send(_ packet: SocketIOPacket) async throws(EngineClosedError) {
        var packets = [EnginePacket.text(packet.encodeHeaderAndPayload())]
        for attachment in packet.attachments { packets.append(.binary(attachment)) }
        try await engine.send(packets)
    }

    func deliver(_ event: SocketIOEvent) {
        inboundContinuation.yield(event)
    }

    /// Ends ``inbound`` (client left, or the session closed).
    func finish() {
        connected.withLock { $0 = false }
        inboundContinuation.finish()
    }
}

/// An event from the client: its name, its other arguments as JSON, the ack id if it wants an
/// answer, and its binary attachments (referenced by placeholders in the arguments).
struct SocketIOEvent: Sendable, Hashable {
    var name: String
    var arguments: [[UInt8]]
    var ackID: UInt64?
    var attachments: [[UInt8]]
}
