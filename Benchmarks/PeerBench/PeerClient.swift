import Foundation
import NIOCore
import NIOPosix

/// The wire protocols the load generator speaks (`sse`: Tether's Server-Sent Events, `socketio`:
/// Tether's Socket.IO over Engine.IO WebSocket; both subscribers only).
enum WireProtocol: String, Sendable {
    case tether, mqtt, nats, sse, socketio
}

/// What one benchmark connection is for.
struct ClientSettings: Sendable {
    var port: Int
    /// Fixed per subscriber, so a reconnect finds its session (MQTT clean session = false, the
    /// NATS durable consumer, the Tether client record).
    var clientID: String
    /// Tether topic, MQTT topic, or NATS stream subject the events are published to.
    var topic: String
    /// Subscribe durably (false: a producer, which only publishes).
    var subscribe = false
    /// NATS: the JetStream stream that holds `topic`; nil for an idle connection (plain SUB).
    var stream: String?
    /// Tether: send one `ack` per event instead of one cumulative `ack` per socket read.
    var ackEach = false
    /// Tether and Socket.IO: resume from this sequence (`last_sequence`) instead of the client's cursor.
    var lastSequence: Int?
    /// SSE: resume from this `Last-Event-ID` (`epoch:seq`) instead of the client's cursor.
    var lastEventID: String?
    /// Tether WebSocket: ask for `events` frames (`batch: true`, as TetherClient does); false is
    /// the client that never asked, which gets one `event` frame per event.
    var batch = true
}

extension ByteBuffer {
    /// Offset from the reader index of the first occurrence of `pattern`, by a plain byte scan
    /// (the generic `firstRange(of:)` on a `ByteBufferView` costs microseconds per call).
    func offset(of pattern: [UInt8], from start: Int = 0) -> Int? {
        withUnsafeReadableBytes { bytes -> Int? in
            guard let first = pattern.first, bytes.count >= pattern.count else { return nil }
            var i = start
            let last = bytes.count - pattern.count
            outer: while i <= last {
                if bytes[i] == first {
                    for j in 1..<pattern.count where bytes[i + j] != pattern[j] {
                        i += 1
                        continue outer
                    }
                    return i
                }
                i += 1
            }
            return nil
        }
    }
}

/// One benchmark connection: a NIO handler that speaks one protocol, reports each received
/// event to `onEvent` (and acknowledges it as that protocol requires), and each confirmed
/// publish to `onConfirm`. Every member is touched only on the channel's event loop, which is
/// what makes the `@unchecked Sendable` safe: other threads reach it through `loop.execute`.
class PeerClient: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let settings: ClientSettings
    let loop: any EventLoop
    /// Succeeds once the connection can publish, or for a subscriber once it is subscribed.
    let ready: EventLoopPromise<Void>
    var onEvent: ((ByteBuffer) -> Void)?
    var onConfirm: (() -> Void)?
    /// A refused publish or a protocol error: the run counts it, never hides it.
    var onError: ((String) -> Void)? = { message in
        FileHandle.standardError.write(Data("peer-bench: \(message)\n".utf8))
    }
    var context: ChannelHandlerContext?
    var inbound = ByteBuffer()
    var wroteSinceFlush = false
    /// Frames that carried events (Tether: `event` and `events`), for events per frame.
    var eventFrames = 0

    init(settings: ClientSettings, loop: any EventLoop) {
        self.settings = settings
        self.loop = loop
        self.ready = loop.makePromise()
    }

    // MARK: what each protocol provides

    /// The connection is open: send the handshake.
    func start() {}
    /// Parse as many whole frames from `inbound` as it holds.
    func parse() throws {}
    /// Publish one event (a producer's only job).
    func publish(_ payload: ByteBuffer) {}
    /// Say goodbye politely (MQTT DISCONNECT) before closing.
    func goodbye() {}

    // MARK: NIO plumbing

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        start()
        flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        do {
            try parse()
        } catch {
            fail("\(error)")
            return
        }
        if inbound.readableBytes == 0 {
            inbound.clear()
        } else if inbound.readerIndex > 65_536 {
            inbound.discardReadBytes()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readBatchEnded()
        flush()
    }

    /// Hook for acks coalesced over one socket read (Tether's cumulative ack).
    func readBatchEnded() {}

    func channelInactive(context: ChannelHandlerContext) {
        ready.fail(PeerError("connection closed before it was ready"))
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    func fail(_ message: String) {
        onError?(message)
        ready.fail(PeerError(message))
        context?.close(promise: nil)
    }

    func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(NIOAny(buffer), promise: nil)
        wroteSinceFlush = true
    }

    func flush() {
        guard wroteSinceFlush, let context else { return }
        wroteSinceFlush = false
        context.flush()
    }

    func close() -> EventLoopFuture<Void> {
        guard let context else { return loop.makeSucceededVoidFuture() }
        goodbye()
        flush()
        let closed = context.channel.closeFuture
        context.close(promise: nil)
        return closed
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension PeerClient {
    /// Opens a connection of the given protocol; the future succeeds when `ready` does.
    static func connect(_ proto: WireProtocol, _ settings: ClientSettings, loop: any EventLoop,
                        configure: (PeerClient) -> Void = { _ in }) -> EventLoopFuture<PeerClient> {
        let client: PeerClient
        switch proto {
        case .tether: client = TetherWSClient(settings: settings, loop: loop)
        case .mqtt: client = MQTTClient(settings: settings, loop: loop)
        case .nats: client = NATSClient(settings: settings, loop: loop)
        case .sse: client = TetherSSEClient(settings: settings, loop: loop)
        case .socketio: client = TetherSocketIOClient(settings: settings, loop: loop)
        }
        configure(client)
        let connected = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(client) }
            }
            .connect(host: "127.0.0.1", port: settings.port)
        // A promise must be completed, even when the connection never opened.
        connected.whenFailure { client.ready.fail($0) }
        return connected.flatMap { _ in client.ready.futureResult }.map { client }
    }
}
