public import Logging
import Hummingbird
import HummingbirdWebSocket
import ServiceLifecycle
import TetherRouting

/// The echo server the official Engine.IO and Socket.IO protocol test suites expect
/// (`socketio/engine.io-protocol` and `socketio/socket.io-protocol`, folder `test-suite/`), run on
/// this transport's real Engine.IO and Socket.IO layers:
///
/// - `/engine.io/`: every message is sent back as it came;
/// - `/socket.io/`: namespaces `/` and `/custom` emit `auth` with the CONNECT payload; on `/`,
///   `message` → `message-back` with the same arguments and `message-with-ack` → an ack with them.
///
/// pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, connectTimeout 1000 ms, as the suites'
/// READMEs specify; binary packets of up to 16 attachments (the relay itself accepts none). Run it with `tether dev socketio-conformance --port 3000`.
public enum SocketIOConformanceServer {
    public static func run(host: String = "127.0.0.1", port: Int = 3000, logger: Logger) async throws {
        var engine = EngineConfiguration()
        engine.pingInterval = 300
        engine.pingTimeout = 200
        engine.maxPayload = 1_000_000
        let router = TetherRouter(context: TetherRequestContext.self)
        register(on: router, engine: engine, logger: logger)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: .init(maxFrameSize: engine.maxPayload))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "tether-socketio-conformance"),
            onServerRunning: { channel in
                logger.notice("socket.io conformance server listening on http://\(host):\(channel.localAddress?.port ?? port)")
            },
            logger: logger
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }

    static func register(on router: TetherRouter, engine: EngineConfiguration, logger: Logger) {
        EngineServer(path: "/engine.io", configuration: engine, logger: logger) { socket in
            for await message in socket.inbound {
                switch message {
                case .text(let bytes): try? await socket.send([.text(bytes)])
                case .binary(let bytes): try? await socket.send([.binary(bytes)])
                }
            }
        }.register(on: router)
        let io = SocketIOServer(
            namespaces: ["/": EchoNamespace(echoes: true), "/custom": EchoNamespace(echoes: false)],
            connectTimeout: 1000,
            maxAttachments: 16,
            logger: logger
        )
        EngineServer(path: "/socket.io", configuration: engine, logger: logger) { socket in
            await io.run(socket)
        }.register(on: router)
    }
}

/// The suites' reference namespace behaviour.
struct EchoNamespace: SocketIONamespace {
    var echoes: Bool

    func serve(_ socket: SocketIOSocket) async {
        do {
            try await socket.accept()
            try await socket.emit("auth", [socket.auth])
            for await event in socket.inbound where echoes {
                switch event.name {
                case "message":
                    try await socket.emit("message-back", event.arguments, attachments: event.attachments)
                case "message-with-ack":
                    if let ackID = event.ackID { try await socket.acknowledge(ackID, event.arguments, attachments: event.attachments) }
                default:
                    continue
                }
            }
        } catch {
            // The session closed.
        }
    }
}
