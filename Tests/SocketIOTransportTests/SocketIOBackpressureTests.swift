import Foundation
import Testing
import TetherTesting

/// A Socket.IO client over WebSocket that stops reading: the relay stops queueing for it at the
/// session's high-water mark, and once the client reads again every event arrives, in order,
/// once, or inside an `event_gap` sent in its place (a client more than the lag cap behind is
/// owed only the newest events, and told so). This is the path where the session's writer job
/// finds the channel unwritable and the channel's writability (not a task) brings delivery back
/// (issue 16).
@Suite("Socket.IO backpressure")
struct SocketIOBackpressureTests {
    @Test func aWebSocketClientThatStopsReadingGetsEveryEventInOrderWhenItReadsAgain() async throws {
        // Pings every 10 minutes: no ping may be what restarts a stalled delivery.
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_TRANSPORT_SOCKETIO_PING_INTERVAL_MS": "600000"])
        let socket = try await RawSocketIOClient.connected(to: relay)

        // 12 MB of events while the client reads nothing: more than loopback's socket buffers
        // and the session's 1 MB queue hold, so the relay has to stop and start again.
        let count = 3_000
        let pad = String(repeating: "x", count: 4_000)
        for first in stride(from: 0, to: count, by: 50) {
            let body = (first..<(first + 50)).map { #"{"topic":"t","data":{"pad":"\#(pad)","n":\#($0)}}"# }.joined(separator: "\n")
            let status = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"]).status
            try #require(status == 202)
        }

        let last = Array(#""n":\#(count - 1)}"#.utf8)
        let (bytes, closed) = await socket.read(timeout: 60) { bytes in
            bytes.suffix(8_192).firstRange(of: last) != nil
        }
        #expect(!closed)
        // Each event's sequence, and each gap's range, in the order they came.
        let event = #"42["claude_event",{"sequence":"#
        let gap = #"42["event_gap",{"from":"#
        var covered: [Int] = []
        var gaps = 0
        var delivered = 0
        for frame in RawTCPConnection.serverTextFrames(bytes) {
            if frame.hasPrefix(event), let seq = Int(frame.dropFirst(event.count).prefix { $0.isNumber }) {
                covered.append(seq)
                delivered += 1
            } else if frame.hasPrefix(gap) {
                let from = Int(frame.dropFirst(gap.count).prefix { $0.isNumber }) ?? 0
                let toText = frame.split(separator: #""to":"#).dropFirst().first?.prefix { $0.isNumber }
                let to = toText.flatMap { Int($0) } ?? 0
                covered += Array(from...max(from, to))
                gaps += 1
            }
        }
        let firstWrong = zip(covered, 1...).first { $0 != $1 }.map { "got \($0) where \($1) belongs" } ?? "none"
        #expect(covered == Array(1...count), "\(covered.count) covered; \(firstWrong)")
        // The client read nothing while 12 MB were published: far more than the queue and the
        // socket buffers hold, so most events reached it after delivery had stopped and started.
        #expect(delivered >= 1_000, "\(delivered) events delivered, \(gaps) gaps")
        print("Socket.IO, a client that stopped reading: \(delivered) events delivered, \(count - delivered) declared in \(gaps) gap(s)")
        socket.close()
        await relay.terminate()
    }
}
