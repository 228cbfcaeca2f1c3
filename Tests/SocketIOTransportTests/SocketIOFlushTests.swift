import Foundation
import Testing
import TetherTesting

/// The Engine.IO packets of one wake leave in few writes, not one system call each (issue 16):
/// each packet is still its own WebSocket frame, as the protocol requires.
@Suite("Socket.IO writes per wake")
struct SocketIOFlushTests {
    @Test func fiftyEventsPublishedTogetherLeaveInFewWrites() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let socket = try await RawSocketIOClient.connected(to: relay)

        func events(_ bytes: [UInt8]) -> Int {
            RawTCPConnection.serverTextFrames(bytes).filter { $0.hasPrefix(#"42["claude_event""#) }.count
        }
        var received: [UInt8] = []
        let trace = try await relay.tracingWrites {
            let body = (0..<50).map { #"{"topic":"t","data":{"n":\#($0)}}"# }.joined(separator: "\n")
            let status = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"]).status
            #expect(status == 202)
            received = await socket.read { events($0) == 50 }.bytes
        }
        #expect(events(received) == 50, "\(RawTCPConnection.serverTextFrames(received).prefix(3))")
        // strace prints a payload's quotes escaped: 42[\"claude_event\"...
        let carrying = trace.filter { $0.contains(#"42[\"claude_event\""#) }
        #expect(carrying.count <= 10, "\(carrying.count) writes for 50 events:\n\(carrying.prefix(5).joined(separator: "\n"))")
        print("Socket.IO: 50 events of one publish left in \(carrying.count) writes")
        socket.close()
        await relay.terminate()
    }
}
