import Foundation
import Testing
import TetherTesting

/// A client id is bound to its resume secret; a second connection of the same client replaces
/// the first.
@Suite("WebSocket identity")
struct WebSocketIdentityTests {
    @Test func resumeWithoutTheSecretIsRefusedAndTheVictimIsUnaffected() async throws {
        let relay = try await RelayProcess.start()
        let victim = RawSocket.connect(port: relay.port)
        let welcome = try await victim.hello(["client_id": "victim"])
        #expect(welcome["client_id"] as? String == "victim")
        try await relay.publish(3)
        _ = try await victim.events(3)
        victim.send(#"{"type":"ack","seq":3}"#)

        for attempt in [["client_id": "victim"], ["client_id": "victim", "resume_token": "guessed"], ["client_id": "victim", "resume_token": "guessed", "last_sequence": 0]] as [[String: Any]] {
            let attacker = RawSocket.connect(port: relay.port)
            var hello = attempt
            hello["type"] = "hello"
            attacker.send(json: hello)
            let error = try await attacker.expect("error")
            #expect(error["code"] as? String == "resume_refused")
            #expect(try await attacker.closed() == 4503)
        }

        // The victim is still connected, still acked at 3, and still receives.
        let stats = try await relay.stats()
        let record = (stats["clients"] as? [[String: Any]])?.first { $0["id"] as? String == "victim" }
        #expect(record?["state"] as? String == "connected")
        #expect(record?["last_ack"] as? Int == 3)
        #expect(record?["reconnects"] as? Int == 0)
        try await relay.publish(1, start: 3)
        let (events, _) = try await victim.events(1)
        #expect(events.first?["seq"] as? Int == 4)
        victim.close()
        await relay.terminate()
    }

    @Test func aSecondConnectionOfTheSameClientSupersedesTheFirst() async throws {
        let relay = try await RelayProcess.start()
        let old = RawSocket.connect(port: relay.port)
        let welcome = try await old.hello()
        let id = try #require(welcome["client_id"] as? String)
        let token = try #require(welcome["resume_token"] as? String)
        let new = RawSocket.connect(port: relay.port)
        let again = try await new.hello(["client_id": id, "resume_token": token])
        #expect(again["resumed"] as? Bool == true)
        let error = try await old.expect("error")
        #expect(error["code"] as? String == "superseded")
        #expect(try await old.closed() == 4504)
        try await relay.publish(1)
        let (events, _) = try await new.events(1)
        #expect(events.first?["seq"] as? Int == 1)
        new.close()
        await relay.terminate()
    }
}
