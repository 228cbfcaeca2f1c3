import ArgumentParser
import Logging
import SocketIOTransport

/// `tether dev`: tools for developing Tether itself, hidden from `--help`.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Development tools (not part of the product).",
        shouldDisplay: false,
        subcommands: [SocketIOConformanceCommand.self]
    )
}

/// `tether dev socketio-conformance`: the echo server the official Engine.IO and Socket.IO test
/// suites run against, on the real transport code (see `SocketIOConformanceServer`).
struct SocketIOConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio-conformance",
        abstract: "Serve /engine.io/ and /socket.io/ in the official test suites' echo configuration."
    )

    @Option(help: "Host to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (the suites use 3000).")
    var port = 3000

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .notice
            return handler
        }
        try await SocketIOConformanceServer.run(host: host, port: port, logger: Logger(label: "tether.socketio.conformance"))
    }
}
