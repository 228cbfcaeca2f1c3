import Foundation
import Testing
import TetherTesting

/// The relay's one name rule holds on Socket.IO too: a CONNECT whose `auth.client_id` breaks it
/// gets a CONNECT_ERROR saying why, no client record is created, and the relay's log gains no
/// line forged from the id.
@Suite("Socket.IO client ids", .serialized)
struct SocketIONameRuleTests {
    /// The id's JSON, and whether the packet is malformed JSON (the session is then closed, as
    /// for any undecodable packet) rather than a well-formed CONNECT refused by the name rule.
    static let ids: [(name: String, json: String, malformed: Bool)] = [
        ("empty", #""""#, false),
        ("a newline (log forging)", #""a\nINJECTED level=critical""#, false),
        ("an escape character", #""x\u001b[31m""#, false),
        ("200 KB", "\"" + String(repeating: "i", count: 200_000) + "\"", false),
        ("a lone surrogate", #""\ud800""#, true),
    ]

    @Test func connectsWithClientIDsBreakingTheNameRuleAreRefused() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        let engine = EngineIOPolling(relay)
        for (name, id, malformed) in Self.ids {
            let open = try await engine.handshake()
            let sid = try #require(open.sid, "\(name): no session: \(open.body)")
            #expect(try await engine.post(sid, #"40{"client_id":\#(id)}"#) == 200)
            let (status, received) = try await engine.poll(sid, until: "44", limit: 5)
            if malformed {
                #expect(status != 200 && !received.contains("40{"), "\(name): the session went on (poll \(status)): \(received.prefix(300))")
            } else {
                #expect(received.contains("44") && received.contains("invalid_name"), "\(name): no CONNECT_ERROR invalid_name (poll \(status)) in \(received.prefix(300))")
            }
        }
        let stats = try #require(try HTTP.json(try await relay.http("GET", "/v1/stats").body) as? [String: Any])
        #expect((stats["clients"] as? [Any])?.isEmpty == true, "refused CONNECTs left client records: \(stats["clients"] ?? "")")
        let forged = relay.log.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("INJECTED") }
        #expect(forged.isEmpty, "log lines forged from input: \(forged)")
        #expect(try await relay.http("GET", "/healthz").status == 200)
        _ = await relay.terminate()
    }
}
