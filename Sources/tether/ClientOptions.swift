import ArgumentParser
import Foundation
import NIOSSL
import TetherClient

/// Options every client subcommand shares: where the relay is.
struct ClientOptions: ParsableArguments {
    @Option(help: "The relay: ws://HOST:PORT/v1/ws, wss://…, http(s)://HOST:PORT or HOST:PORT (also TETHER_URL).")
    var url: String?

    @Option(help: "PEM file of the CA that signed a wss:// relay's certificate (also TETHER_CA_FILE); default: the system's trust roots.")
    var caFile: String?

    var resolvedURL: String {
        RelayURL.normalize(url ?? ProcessInfo.processInfo.environment["TETHER_URL"] ?? "ws://127.0.0.1:8765/v1/ws")
    }

    /// A client configuration for the relay these options name.
    func clientConfiguration() throws -> TetherClientConfiguration {
        var configuration = TetherClientConfiguration(url: resolvedURL)
        if let path = caFile ?? ProcessInfo.processInfo.environment["TETHER_CA_FILE"] {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw Console.fail("--ca-file \(path) is not a readable file", code: 2)
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(path)
            configuration.tls = tls
        }
        return configuration
    }
}

/// Writes to stdout unbuffered, so a pipe sees each line as soon as it is printed.
enum Console {
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func out(bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes + [0x0A]))
    }

    static func note(_ line: String) {
        FileHandle.standardError.write(Data(("tether: " + line + "\n").utf8))
    }

    /// Prints one line naming the problem and returns the exit code to throw.
    static func fail(_ message: String, code: Int32 = 1) -> ExitCode {
        note("error: " + message)
        return ExitCode(code)
    }
}

/// Stops `client` on SIGINT or SIGTERM (its state is saved on the way out).
final class StopOnSignal: @unchecked Sendable {
    // @unchecked: `sources` is set once in init and never mutated; dispatch sources are
    // thread-safe to hold and their handlers run on Dispatch's own queue.
    private let sources: [any DispatchSourceSignal]

    init(_ client: TetherClient) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { Task { await client.stop() } }
            source.resume()
            return source
        }
    }
}
