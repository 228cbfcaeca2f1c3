import Foundation
import Testing
import TetherTesting

/// `systemd-socket-activate` holds the listening socket and starts the relay on the first
/// connection with `LISTEN_FDS=1`; the relay serves that socket instead of binding its own.
@Suite("socket activation")
struct SocketActivationTests {
    @Test func relayServesThePassedSocket() async throws {
        let notify = try NotifySocketListener()
        let port = try freeLoopbackPort()
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("tether-activate-\(UUID().uuidString).pid")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let process = Process()
        // systemd-socket-activate closes the descriptors it inherited, among them the one Foundation
        // watches to learn that a child exited (it then blocks in waitpid until the child really
        // exits, stalling every other Process). So a shell stays in between, reports the pid, and
        // polls for the relay's end (its `wait` would not return: the test runner spawns children
        // with SIGCHLD blocked).
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The listen address given to tether is deliberately different: it must not bind it.
        process.arguments = [
            "-c", #"systemd-socket-activate "$@" & pid=$!; echo $pid > "$0"; while read -r _ _ state _ < /proc/$pid/stat && [ "$state" != Z ]; do sleep 0.05; done"#, pidFile.path,
            "-l", "127.0.0.1:\(port)", "-E", "NOTIFY_SOCKET", "-E", "TETHER_LIMITS_HANDSHAKE_TIMEOUT", RelayProcess.binary.path, "serve", "--listen", "127.0.0.1:1", "--log", "stderr",
        ]
        process.environment = ["NOTIFY_SOCKET": notify.path, "TETHER_LIMITS_HANDSHAKE_TIMEOUT": "0.5", "PATH": "/usr/bin:/bin"]
        // A file, not a pipe: see `Command` in TetherTesting.
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("tether-activate-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: logFile) }
        let output = try FileHandle(forWritingTo: logFile)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()
        var relayPID: Int32?
        let pidDeadline = Date().addingTimeInterval(10)
        while relayPID == nil, Date() < pidDeadline {
            relayPID = (try? String(contentsOf: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if relayPID == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let pid = try #require(relayPID)
        defer { if process.isRunning { kill(pid, SIGKILL) } }

        // The first connection starts the relay, which answers it on the inherited socket.
        var answer: (status: Int, body: Data)?
        let deadline = Date().addingTimeInterval(30)
        while answer == nil, Date() < deadline, process.isRunning {
            answer = try? await HTTP.request("GET", "http://127.0.0.1:\(port)/readyz")
            if answer == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(answer?.status == 200)
        #expect(await notify.waitFor { $0.contains("READY=1") } != nil)
        let published = try await HTTP.request("POST", "http://127.0.0.1:\(port)/v1/events", body: Data(#"{"topic":"t"}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(published.status == 202)
        // The inherited socket's connections get the same set-up as a bound one's: a connection
        // that sends no request head is closed by the handshake deadline.
        let silent = try RawTCPConnection(port: port)
        let (bytes, closed) = await silent.read(timeout: 20)
        #expect(closed && bytes.isEmpty, "the socket-activated relay kept a silent connection open")
        silent.close()

        // A WebSocket subscriber on the inherited socket is told the relay is going away (close
        // 1000) before the relay exits, as on a bound one.
        let subscriber = try RawTCPConnection(port: port)
        try await subscriber.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port))
        #expect(try await subscriber.helloUntilWelcome())
        // So is an SSE stream: it ends with the response's last chunk (the inherited server's
        // quiesce reaches the stream's handler, which owns the connection once its route answered).
        let stream = try RawTCPConnection(port: port)
        try await stream.send("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (welcome, _) = await stream.read(timeout: 10) { String(decoding: $0, as: UTF8.self).contains("tether.welcome") }
        #expect(String(decoding: welcome, as: UTF8.self).contains("tether.welcome"))

        // systemd-socket-activate exec()s the relay: the pid is the relay's.
        kill(pid, SIGTERM)
        let (streamEnd, streamClosed) = await stream.read(timeout: 15) { _ in false }
        #expect(streamClosed && streamEnd.suffix(5) == Array("0\r\n\r\n".utf8), "the SSE stream did not end with its last chunk on SIGTERM")
        stream.close()
        let (closing, subscriberClosed) = await subscriber.read(timeout: 15) { _ in false }
        #expect(RawTCPConnection.serverCloseCode(closing) == 1000, "the subscriber got no close 1000 on SIGTERM")
        #expect(subscriberClosed)
        subscriber.close()
        let exitDeadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < exitDeadline { try await Task.sleep(for: .milliseconds(20)) }
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        #expect(!process.isRunning)
        #expect(log.contains("stopped"), "no clean stop; log:\n\(log)")
        #expect(log.contains("listening on http://127.0.0.1:\(port)"), "log:\n\(log)")
        #expect(notify.count("STOPPING=1") == 1)
    }
}
