import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization
import TetherCore
import TetherRouting

/// Engine.IO v4 at one path: HTTP long-polling, WebSocket, and the upgrade from one to the other.
///
/// It owns the table of live sessions by `sid` (behind a `Mutex`). Each new session is handed to
/// `onConnection`, which runs for the session's lifetime reading ``EngineSocket/inbound``.
/// Protocol violations close only the session they happen on: a bad packet or a second
/// concurrent poll closes it, a request for an unknown or closed `sid` gets HTTP 400, and a body
/// or WebSocket message over `maxPayload` is refused (HTTP 413) and closes it.
///
/// With an ``EngineAdmission``, every handshake is admitted (or refused) before its session
/// exists: a refused polling handshake gets the error as HTTP status and JSON, a refused
/// WebSocket handshake a session-less `open`, the admission's messages and a close.
final class EngineServer: Sendable {
    let path: String
    let configuration: EngineConfiguration
    let logger: Logger
    let admission: EngineAdmission?
    private let sockets = Mutex<[String: EngineSocket]>([:])
    private let onConnection: @Sendable (EngineSocket) async -> Void

    init(path: String, configuration: EngineConfiguration, logger: Logger, admission: EngineAdmission? = nil, onConnection: @escaping @Sendable (EngineSocket) async -> Void) {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        self.admission = admission
        self.onConnection = onConnection
    }

    /// Live sessions (for stats and tests).
    var sessionCount: Int { sockets.withLock { $0.count } }

    /// Adds the polling endpoint (every method; Engine.IO answers wrong ones with 400) and the
    /// WebSocket upgrade at `path`.
    func register(on router: TetherRouter) {
        let group = router.group(RouterPath(path))
        group.add(middleware: EnginePollingMiddleware(server: self))
        group.ws("", shouldUpgrade: { [self] request, context in
            let decision = try shouldUpgrade(request)
            // The packets of one wake leave in one write (FlushCoalescingHandler).
            try await FlushCoalescingHandler.add(to: context.channel)
            return decision
        }, onUpgrade: { [self] inbound, outbound, context in
            try await serveWebSocket(inbound: inbound, outbound: outbound, request: context.request, context: context.requestContext)
        })
        // The middleware answers these; the routes only make the router send them there.
        for method in [HTTPRequest.Method.post, .put, .delete, .patch, .options, .head] {
            group.on("", method: method) { _, _ in Response(status: .badRequest) }
        }
    }

    // MARK: Sessions

    /// The slot a new session takes (none without an admission), or the refusal.
    private func admit(_ request: Request, address: String) throws(RelayError) -> ConnectionTicket? {
        guard let admission else { return nil }
        return try admission.admit(request, address)
    }

    private func open(transport: EngineSocket.Transport, remote: String, loop: any EventLoop, ticket: ConnectionTicket?) -> EngineSocket {
        let socket = EngineSocket(id: Self.newSessionID(), remote: remote, transport: transport, configuration: configuration, loop: loop, ticket: ticket) { [weak self] closed in
            self?.sockets.withLock { _ = $0.removeValue(forKey: closed.id) }
            self?.logger.debug("engine.io session closed", metadata: ["sid": "\(closed.id)", "reason": "\(closed.closeReason?.rawValue ?? "?")"])
        }
        sockets.withLock { $0[socket.id] = socket }
        let onConnection = self.onConnection
        socket.startHeartbeat()
        Task { await onConnection(socket) }
        return socket
    }

    /// The live session `sid`, or `nil` (unknown, closed, or overdue on its pong).
    func session(_ sid: Substring) -> EngineSocket? {
        guard let socket = sockets.withLock({ $0[String(sid)] }) else { return nil }
        return socket.expireIfOverdue() ? nil : socket
    }

    /// 20 URL-safe random characters, like the reference server's ids.
    static func newSessionID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] }, as: UTF8.self)
    }

    // MARK: HTTP long-polling

    /// Engine.IO's error codes, as the reference server sends them in a 400 body.
    enum Failure: Int {
        case unknownTransport = 0, unknownSession, badHandshakeMethod, badRequest, forbidden, unsupportedVersion

        var message: String {
            switch self {
            case .unknownTransport: "Transport unknown"
            case .unknownSession: "Session ID unknown"
            case .badHandshakeMethod: "Bad handshake method"
            case .badRequest: "Bad request"
            case .forbidden: "Forbidden"
            case .unsupportedVersion: "Unsupported protocol version"
            }
        }
    }

    static func failure(_ failure: Failure, status: HTTPResponse.Status = .badRequest, detail: String? = nil) -> Response {
        var text = "{\"code\":\(failure.rawValue),\"message\":\"\(failure.message)\""
        if let detail {
            var writer = JSONWriter()
            writer.string(detail)
            text += ",\"detail\":" + String(decoding: writer.bytes, as: UTF8.self)
        }
        text += "}"
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func text(_ bytes: [UInt8], contentType: String = "text/plain; charset=UTF-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Answers every non-WebSocket request at `path`.
    func respond(to request: Request, context: TetherRequestContext) async -> Response {
        let query = request.uri.queryParameters
        guard query["EIO"] == "4" else { return Self.failure(.unsupportedVersion, detail: "this server speaks Engine.IO v4 (EIO=4)") }
        guard query["transport"] == "polling" else {
            return Self.failure(.unknownTransport, detail: "transport must be polling (or websocket with an Upgrade request)")
        }
        let sid = query["sid"]
        switch request.method {
        case .get where sid == nil:
            let ticket: ConnectionTicket?
            do throws(RelayError) {
                ticket = try admit(request, address: context.remoteHost)
            } catch {
                return EngineAdmission.refusal(error)
            }
            let socket = open(transport: .polling, remote: context.remoteDescription, loop: context.channel.eventLoop, ticket: ticket)
            var bytes: [UInt8] = []
            socket.handshake(upgrades: ["websocket"]).encode(into: &bytes)
            return Self.text(bytes)
        case .get:
            guard let socket = session(sid!) else { return Self.failure(.unknownSession) }
            switch await cancelWhenGracefulShutdown({ await socket.poll() }) {
            case .payload(let bytes): return Self.text(bytes)
            case .badRequest(let detail): return Self.failure(.badRequest, detail: detail)
            }
        case .post where sid != nil:
            guard let socket = session(sid!) else { return Self.failure(.unknownSession) }
            return await receivePost(request, socket: socket)
        case .post:
            return Self.failure(.badHandshakeMethod, detail: "a session starts with GET")
        default:
            return Self.failure(.badRequest, detail: "method \(request.method) is not part of Engine.IO")
        }
    }

    private func receivePost(_ request: Request, socket: EngineSocket) async -> Response {
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.maxPayload)
        } catch {
            socket.close(.tooLarge)
            return Self.failure(.badRequest, status: .contentTooLarge, detail: "the request body is over maxPayload (\(configuration.maxPayload) bytes); the session is closed")
        }
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        let packets: [EnginePacket]
        do {
            packets = try EnginePacket.decodePayload(bytes)
        } catch {
            socket.close(.protocolError)
            return Self.failure(.badRequest, detail: "\(error); the session is closed")
        }
        for packet in packets { socket.receive(packet) }
        return Self.text(Array("ok".utf8), contentType: "text/html")
    }

    // MARK: WebSocket

    private func shouldUpgrade(_ request: Request) throws -> RouterShouldUpgrade {
        let query = request.uri.queryParameters
        guard query["EIO"] == "4", query["transport"] == "websocket" else {
            throw HTTPError(.badRequest, message: "a WebSocket needs EIO=4 and transport=websocket")
        }
        if let sid = query["sid"], session(sid) == nil {
            throw HTTPError(.badRequest, message: "session \(sid) is unknown or closed")
        }
        // A known session that cannot be upgraded (again) gets a WebSocket that is closed at
        // once, as the reference server does; ``serveWebSocket`` checks.
        return .upgrade([:])
    }

    private func serveWebSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, context: TetherRequestContext) async throws {
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        let socket: EngineSocket
        if let sid = request.uri.queryParameters["sid"] {
            guard let upgrading = session(sid), upgrading.canUpgrade else {
                try await outbound.close(.policyViolation, reason: "session \(sid) is closed or already has a WebSocket")
                return
            }
            guard try await probe(upgrading, &messages, outbound) else { return }
            socket = upgrading
        } else {
            let ticket: ConnectionTicket?
            do throws(RelayError) {
                ticket = try admit(request, address: context.remoteHost)
            } catch {
                try await refuse(outbound, error)
                return
            }
            socket = open(transport: .websocket, remote: context.remoteDescription, loop: context.channel.eventLoop, ticket: ticket)
            try await outbound.write(.text(Self.string(socket.handshake(upgrades: []))))
        }
        do {
            try await socket.attach(context.channel)
        } catch {
            socket.close(.transportClosed)  // the connection went away before it carried anything
            throw error
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Packets go out from the session's writer job (EngineSocket+WebSocket.swift); this
            // task only ends the WebSocket when the session closes.
            group.addTask {
                await socket.closed()
                try? await outbound.close(.normalClosure, reason: socket.closeReason?.rawValue)
            }
            do {
                while let message = try await messages.next() {
                    switch message {
                    case .text(let text):
                        do {
                            socket.receive(try EnginePacket.decode(ArraySlice(text.utf8), allowBase64: false))
                        } catch {
                            logger.debug("engine.io protocol error", metadata: ["sid": "\(socket.id)", "error": "\(error)"])
                            socket.close(.protocolError)
                        }
                    case .binary(var buffer):
                        socket.receive(.binary(buffer.readBytes(length: buffer.readableBytes) ?? []))
                    }
                    if socket.isClosed { break }
                }
                socket.close(.transportClosed)
            } catch {
                socket.close(.tooLarge)
            }
            try await group.waitForAll()
        }
    }

    /// The upgrade handshake on a WebSocket that names a polling session: `2probe` → `3probe`,
    /// then `5`. Returns whether the session now runs over this WebSocket.
    private func probe(_ socket: EngineSocket, _ messages: inout WebSocketInboundMessageStream.AsyncIterator, _ outbound: WebSocketOutboundWriter) async throws -> Bool {
        var probed = false
        while let message = try await messages.next() {
            guard case .text(let text) = message else { break }
            switch text {
            case "2probe" where !probed:
                guard socket.beginUpgrade() else { return false }
                probed = true
                try await outbound.write(.text("3probe"))
            case "5" where probed:
                socket.completeUpgrade()
                return true
            default:
                continue  // nothing else belongs to an upgrade; polling still carries the session
            }
        }
        socket.abortUpgrade()
        return false
    }

    /// Tells a refused WebSocket handshake why without a session: an `open` packet naming no
    /// session (clients read nothing before it), the admission's messages, and close 1013
    /// (try again later) or 1008 (policy: a bad token).
    private func refuse(_ outbound: WebSocketOutboundWriter, _ error: RelayError) async throws {
        var open = "{\"sid\":\"\",\"upgrades\":[],\"pingInterval\":\(configuration.pingInterval),\"pingTimeout\":\(configuration.pingTimeout),\"maxPayload\":\(configuration.maxPayload)}"
        open = Self.string(EnginePacket(.open, Array(open.utf8)))
        try await outbound.write(.text(open))
        for message in admission?.refusalMessages(error) ?? [] {
            try await outbound.write(.text(Self.string(.text(message))))
        }
        let retryable = error.code == .serverBusy || error.code == .tooManyConnections
        try await outbound.close(retryable ? .init(codeNumber: 1013) : .policyViolation, reason: error.code.rawValue)
    }

    private static func string(_ packet: EnginePacket) -> String {
        var bytes: [UInt8] = []
        packet.encode(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Sends every request at the Engine.IO path that is not a WebSocket upgrade to the server's
/// polling responder; upgrades go on to the WebSocket route.
struct EnginePollingMiddleware: RouterMiddleware {
    typealias Context = TetherRequestContext
    let server: EngineServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get, request.headers[.upgrade]?.lowercased() == "websocket" {
            return try await next(request, context)
        }
        return await server.respond(to: request, context: context)
    }
}
