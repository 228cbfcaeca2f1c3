import Foundation
import Testing
import TetherTesting

/// The real relay in a private journald: SIGTERM is logged once, and a WebSocket client's
/// disconnect during shutdown says the relay ended it, not the client.
@Suite("journald graceful shutdown")
struct JournalShutdownTests {
    @Test func sigtermIsLoggedAndTheDisconnectSaysTheRelayEndedIt() async throws {
        let client = "journal-stop-\(UUID().uuidString.prefix(8))"
        let sections = try await runJournalScript("journal-shutdown-check.sh", [RelayProcess.binary.path, client, "\(try FreePort.next())"])
        let entries = try JournalTimelineTests.objects(sections["client"])
        let connected = try #require(entries.first { $0["TETHER_EVENT"] as? String == "connected" }, "\(sections["client"] ?? "")")
        let connectedMessage = try #require(connected["MESSAGE"] as? String)
        #expect(connectedMessage.hasPrefix("client \(client) connected over websocket from 127.0.0.1:"), "\(connectedMessage)")
        let disconnected = try #require(entries.first { $0["TETHER_EVENT"] as? String == "disconnected" }, "\(sections["client"] ?? "")")
        let reason = disconnected["TETHER_REASON"] as? String ?? "(no TETHER_REASON)"
        #expect(reason.hasPrefix("the relay is shutting down"), "\(reason)")
        #expect(reason.contains("close code 1000"), "\(reason)")
        #expect((disconnected["MESSAGE"] as? String)?.contains("client closed the connection") == false)

        let notices = try JournalTimelineTests.objects(sections["notice"]).compactMap { $0["MESSAGE"] as? String }
        let shutdown = notices.filter { $0.hasPrefix("graceful shutdown started") }
        #expect(shutdown.count == 1, "notices: \(notices)")
        #expect(shutdown.first?.contains("SIGTERM") == true)
    }
}
