import Foundation
import Testing
import TetherTesting

/// Stock Socket.IO connection-state recovery (`pid` in the CONNECT reply, the offset as each
/// event's last argument, `{pid, offset}` in the next CONNECT), spoken over raw long-polling.
@Suite("Socket.IO connection-state recovery")
struct ConnectionStateRecoveryTests {
    /// One polling client: collects the Socket.IO packets the relay sends it.
    struct PollingClient {
        let relay: RelayProcess
        let sid: String
        var connectReply: [String: Any]?
        var events: [(name: String, arguments: [Any])] = []

        init(_ relay: RelayProcess, auth: String?) async throws {
            self.relay = relay
            let (_, body) = try await relay.http("GET", "/socket.io/?EIO=4&transport=polling")
            let open = try #require(try JSONSerialization.jsonObject(with: Data(String(decoding: body, as: UTF8.self).dropFirst().utf8)) as? [String: Any])
            sid = try #require(open["sid"] as? String)
            let (status, _) = try await relay.http("POST", "/socket.io/?EIO=4&transport=polling&sid=\(sid)", body: Data(("40" + (auth ?? "")).utf8))
            #expect(status == 200)
        }

        /// Polls until `done(events)` holds (at most 12 polls; each returns at once or at the next ping).
        mutating func poll(until done: ([(name: String, arguments: [Any])]) -> Bool) async throws {
            for _ in 0..<12 where !done(events) {
                let (status, body) = try await relay.http("GET", "/socket.io/?EIO=4&transport=polling&sid=\(sid)")
                #expect(status == 200)
                for packet in String(decoding: body, as: UTF8.self).split(separator: "\u{1e}") {
                    if packet.hasPrefix("40") {
                        connectReply = try JSONSerialization.jsonObject(with: Data(packet.dropFirst(2).utf8)) as? [String: Any]
                    } else if packet.hasPrefix("42"), let array = try JSONSerialization.jsonObject(with: Data(packet.dropFirst(2).utf8)) as? [Any], let name = array.first as? String {
                        events.append((name, Array(array.dropFirst())))
                    } else if packet == "2" {
                        _ = try await relay.http("POST", "/socket.io/?EIO=4&transport=polling&sid=\(sid)", body: Data("3".utf8))
                    }
                }
            }
            #expect(done(events), "got \(events.map(\.name))")
        }

        var claudeEvents: [(sequence: Int, offset: String?)] {
            events.filter { $0.name == "claude_event" }.map { (($0.arguments.first as? [String: Any])?["sequence"] as? Int ?? -1, $0.arguments.dropFirst().first as? String) }
        }

        func close() async throws {
            _ = try await relay.http("POST", "/socket.io/?EIO=4&transport=polling&sid=\(sid)", body: Data("1".utf8))
        }
    }

    static func publish(_ relay: RelayProcess, _ count: Int) async throws {
        let body = (0..<count).map { #"{"topic":"t","data":{"n":\#($0)}}"# }.joined(separator: ",")
        #expect(try await relay.http("POST", "/v1/events", body: Data("[\(body)]".utf8), headers: ["Content-Type": "application/json"]).status == 202)
    }

    @Test func stockClientRecoversWithPidAndOffsetAndGetsTheMissedEventsAsEvents() async throws {
        let relay = try await RelayProcess.start()
        var first = try await PollingClient(relay, auth: nil)
        try await first.poll { $0.contains { $0.name == "event_history" } }
        let pid = try #require(first.connectReply?["pid"] as? String)
        try await Self.publish(relay, 3)
        try await first.poll { events in events.filter { $0.name == "claude_event" }.count == 3 }
        let offset = try #require(first.claudeEvents.last?.offset)
        #expect(first.claudeEvents.map(\.sequence) == [1, 2, 3])
        try await first.close()

        try await Self.publish(relay, 2)
        var second = try await PollingClient(relay, auth: #"{"pid":"\#(pid)","offset":"\#(offset)"}"#)
        try await second.poll { events in events.filter { $0.name == "claude_event" }.count == 2 }
        #expect(second.connectReply?["pid"] as? String == pid, "the same pid tells socket.io-client it recovered")
        let established = try #require(second.events.first { $0.name == "connection_established" }?.arguments.first as? [String: Any])
        #expect(established["recovered"] as? Bool == true)
        #expect(second.claudeEvents.map(\.sequence) == [4, 5])
        #expect(!second.events.contains { $0.name == "event_replay" || $0.name == "event_history" })
        await relay.terminate()
    }
}
