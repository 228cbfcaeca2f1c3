import Foundation
import Testing
import TetherTesting

/// Engine.IO's heartbeat, as a client sees it: the relay pings every `ping-interval-ms`, a client
/// that answers with pongs keeps its session, and one that stops answering is closed once a
/// ping's pong is `ping-timeout-ms` late.
@Suite("Engine.IO heartbeat")
struct EngineHeartbeatTests {
    @Test func pongsKeepTheSessionAndSilenceEndsIt() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: [
            "TETHER_TRANSPORT_SOCKETIO_PING_INTERVAL_MS": "200",
            "TETHER_TRANSPORT_SOCKETIO_PING_TIMEOUT_MS": "300",
        ])
        let socket = try RawTCPConnection(port: relay.port)
        try await socket.send(RawTCPConnection.webSocketUpgrade("/socket.io/?EIO=4&transport=websocket", port: relay.port))
        let (opening, _) = await socket.read { String(decoding: $0, as: UTF8.self).contains(#""sid""#) }
        let headEnd = try #require(RawTCPConnection.headEnd(opening), "\(String(decoding: opening, as: UTF8.self))")
        var stream = Array(opening[(headEnd + 4)...])
        let open = try #require(RawTCPConnection.serverTextFrames(stream).first { $0.hasPrefix("0{") })
        #expect(open.contains(#""pingInterval":200"#) && open.contains(#""pingTimeout":300"#), "\(open)")

        // Answered: a ping every 200 ms, and the session stays open for 1.5 s (three times the
        // 500 ms a silent client would get).
        func pings() -> Int { RawTCPConnection.serverTextFrames(stream).filter { $0 == "2" }.count }
        var answered = 0
        let answering = Date().addingTimeInterval(1.5)
        while Date() < answering {
            let (bytes, closed) = await socket.read(timeout: 0.6) { _ in true }
            stream += bytes
            #expect(!closed, "the relay closed a session whose client answered every ping")
            if closed { break }
            while answered < pings() {
                try await socket.send(RawTCPConnection.webSocketFrame(Array("3".utf8)))
                answered += 1
            }
        }
        #expect(answered >= 4 && answered <= 9, "\(answered) pings in 1.5 s at a 200 ms interval")

        // Silent: closed within interval + timeout (500 ms) of the last pong, with slack.
        let silentSince = Date()
        let (_, closed) = await socket.read(timeout: 5) { _ in false }
        #expect(closed, "a client that stopped answering pings was not closed within 5 s")
        #expect(Date().timeIntervalSince(silentSince) < 3, "closed \(Date().timeIntervalSince(silentSince)) s after the last pong")
        socket.close()
        await relay.terminate()
    }
}
