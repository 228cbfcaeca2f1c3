public import Hummingbird
import HTTPTypes
public import TetherRouting
public import TetherCore

/// Server-Sent Events at `GET /v1/stream`: what a browser's `EventSource` and `curl -N` speak.
///
/// Each event is `id: <epoch>:<seq>`, `event: <topic>`, `data: <the producer's JSON>`. A client
/// resumes by sending `Last-Event-ID` (EventSource does so by itself) or `?last_event_id=`;
/// before anything else the stream says what the client is owed: a `tether.welcome` event, and
/// a `tether.gap` or `tether.reset` event when the resume cannot be exact, so a client never
/// believes it caught up when it did not. `client_id`/`resume_token` query parameters give an
/// SSE client the same persistent identity as a WebSocket client.
///
/// A client that hangs up is noticed at once (the connection's inbound side closes), not at the
/// next heartbeat: its session ends and its slot in the connection limits is free again. Each
/// stream is served from its connection's event loop (``SSEStreamHandler``), without a task.
///
/// SSE has no way back, so an event written to the socket frees its slot in the in-flight window;
/// TCP backpressure is the flow control (the writer waits while the socket is full), and a slow
/// reader past the lag cap gets a `tether.gap`. A write is not a confirmation, though: the
/// client's resume position moves only with what the client itself says (`Last-Event-ID`, or
/// a WebSocket ack), so a client that comes back with `client_id` alone is sent again what was
/// written to its previous stream (at least once; drop by `id`) rather than silently missing
/// what died in the socket buffers.
public struct SSETransport: Transport {
    public typealias Routes = TetherRouter

    public struct Configuration: Sendable, Hashable {
        /// Seconds between `: heartbeat` comments that keep proxies from closing an idle stream.
        public var heartbeatInterval: Double = 15
        /// The reconnect delay suggested to EventSource clients, in milliseconds.
        public var retryMilliseconds = 2000

        public init() {}
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public func register(on routes: Routes, relay: Relay) {
        let configuration = self.configuration
        // HEAD says whether a stream would be served (the token is checked), without opening a
        // session or taking a connection slot: a GET's stream would only be thrown away.
        routes.head("/v1/stream") { request, _ -> Response in
            try relay.gate.authorize(request.bearerToken, for: .subscribe)
            return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"])
        }
        routes.get("/v1/stream") { request, context -> Response in
            let ticket = try relay.gate.admitSubscriber(token: request.bearerToken, address: context.remoteHost)
            let session: Session
            do {
                let hello = try SSEResumeRequest(request).hello
                session = try await relay.subscribe(hello, transport: "sse", remote: context.remoteDescription)
            } catch {
                ticket.release()
                throw error
            }
            // The stream is served from the connection's event loop (SSEStreamHandler); this
            // task only answers with the head.
            let installed: Bool
            do {
                installed = try await SSEStreamHandler.install(on: context.channel, session: session, configuration: configuration, ticket: ticket)
            } catch {
                session.close(reason: "the stream could not be set up: \(error)")
                ticket.release()
                throw error
            }
            if !installed {
                session.close(reason: "the connection closed before the stream started")
                ticket.release()
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream; charset=utf-8",
                    .cacheControl: "no-store",
                    HTTPField.Name("X-Accel-Buffering")!: "no",
                ],
                // Of unknown length, so chunked; its end is kept back by the stream's handler,
                // which writes the stream's chunks and ends it.
                body: ResponseBody { writer in try await writer.finish(nil) }
            )
        }
    }

    public static let plugin = PluginDescriptor<any Transport<Routes>>(
        name: "sse",
        summary: "Server-Sent Events at GET /v1/stream; resumes from Last-Event-ID, gaps and resets as named events",
        keys: keys
    ) { context in
        // Out-of-range values are refused, not clamped: a silently different setting would
        // surprise the operator who wrote it.
        var configuration = Configuration()
        if let heartbeat = try context.settings.number(heartbeatIntervalKey) { configuration.heartbeatInterval = heartbeat }
        if let retry = try context.settings.integer(retryKey) { configuration.retryMilliseconds = retry }
        return SSETransport(configuration: configuration)
    }

    static let heartbeatIntervalKey = ConfigKeySpec(
        "heartbeat-interval", .number(1...3600), default: "15", "seconds between : heartbeat comments that keep proxies from closing an idle stream"
    )
    static let retryKey = ConfigKeySpec("retry-ms", .integer(100...3_600_000), default: "2000", "reconnect delay suggested to EventSource clients (retry:), in milliseconds")

    /// The keys under `transport.sse`.
    public static let keys = [heartbeatIntervalKey, retryKey]
}

/// What an SSE request asks for: identity and resume point from headers and query parameters.
struct SSEResumeRequest {
    var hello: Hello

    init(_ request: Request) throws(RelayError) {
        let query = request.uri.queryParameters
        hello = Hello()
        hello.clientID = query["client_id"].map(String.init)
        hello.resumeToken = query["resume_token"].map(String.init)
        if let topics = query["topics"] {
            hello.topics = topics.split(separator: ",").map(String.init)
        }
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!] ?? query["last_event_id"].map(String.init)
        if let lastEventID, !lastEventID.isEmpty {
            // "<epoch>:<seq>", as this transport writes ids; a bare number is a seq of an unknown epoch.
            let parts = lastEventID.split(separator: ":", maxSplits: 1)
            guard let seq = ClientSequence.parse(parts.last ?? "") else {
                throw RelayError(.malformed, "Last-Event-ID \"\(lastEventID)\" is not <epoch>:<seq> as this relay writes ids, with seq \(ClientSequence.rule)")
            }
            hello.lastSequence = seq
            if parts.count == 2 { hello.epoch = Epoch(rawValue: String(parts[0])) }
        } else if let history = query["history"] {
            guard let count = ClientSequence.parse(history) else {
                throw RelayError(.malformed, "history=\(history.prefix(40)) is not \(ClientSequence.rule)")
            }
            hello.history = Int(clamping: count)
        }
    }
}
