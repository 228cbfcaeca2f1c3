import Foundation
import Testing
import TetherTesting

/// Bad Engine.IO and Socket.IO input over raw HTTP long-polling: each case closes only the session
/// it happens on (or is refused before there is one), with the status the reference server uses.
@Suite("Socket.IO bad input", .serialized)
struct EngineBadInputTests {
    static let maxPayload = 4096

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String
        /// Query after `/socket.io/?`; `{sid}` is replaced with a fresh session's id.
        var query: String
        var body: String?
        var status: Int
        /// Whether the session named in the query must be gone afterwards.
        var closesSession: Bool
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown sid on GET", method: "GET", query: "EIO=4&transport=polling&sid=nope", status: 400, closesSession: false),
        Case(name: "unknown sid on POST", method: "POST", query: "EIO=4&transport=polling&sid=nope", body: "40", status: 400, closesSession: false),
        Case(name: "missing EIO", method: "GET", query: "transport=polling", status: 400, closesSession: false),
        Case(name: "Engine.IO v3", method: "GET", query: "EIO=3&transport=polling", status: 400, closesSession: false),
        Case(name: "unknown transport", method: "GET", query: "EIO=4&transport=carrier-pigeon", status: 400, closesSession: false),
        Case(name: "handshake by POST", method: "POST", query: "EIO=4&transport=polling", body: "", status: 400, closesSession: false),
        Case(name: "PUT", method: "PUT", query: "EIO=4&transport=polling&sid={sid}", body: "4x", status: 400, closesSession: false),
        Case(name: "bad Engine.IO packet type", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "abc", status: 400, closesSession: true),
        Case(name: "empty Engine.IO payload", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "", status: 400, closesSession: true),
        Case(name: "bad base64", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "b%%%", status: 400, closesSession: true),
        Case(name: "oversized payload", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "4" + String(repeating: "x", count: maxPayload + 10), status: 413, closesSession: true),
        Case(name: "bad Socket.IO packet type", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "4abc", status: 200, closesSession: true),
        Case(name: "Socket.IO event that is not an array", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "42{}", status: 200, closesSession: true),
        Case(name: "Socket.IO ack id that is not a number", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: #"42abc["x"]"#, status: 200, closesSession: true),
        Case(name: "binary attachment nobody announced", method: "POST", query: "EIO=4&transport=polling&sid={sid}", body: "bAQID", status: 200, closesSession: true),
    ]

    static func handshake(_ relay: RelayProcess) async throws -> String {
        let (status, body) = try await relay.http("GET", "/socket.io/?EIO=4&transport=polling")
        #expect(status == 200)
        let text = String(decoding: body, as: UTF8.self)
        let open = try #require(try JSONSerialization.jsonObject(with: Data(text.dropFirst().utf8)) as? [String: Any])
        #expect(open["maxPayload"] as? Int == maxPayload)
        return try #require(open["sid"] as? String)
    }

    @Test(arguments: cases)
    func badInputIsRefusedAndClosesOnlyItsSession(_ item: Case) async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_TRANSPORT_SOCKETIO_MAX_PAYLOAD": "\(Self.maxPayload)"])
        let victim = try await Self.handshake(relay)
        let bystander = try await Self.handshake(relay)
        // The bystander has joined the relay's namespace before the victim misbehaves.
        #expect(try await relay.http("POST", "/socket.io/?EIO=4&transport=polling&sid=\(bystander)", body: Data("40".utf8)).status == 200)

        let query = item.query.replacingOccurrences(of: "{sid}", with: victim)
        let (status, _) = try await relay.http(item.method, "/socket.io/?\(query)", body: item.body.map { Data($0.utf8) })
        #expect(status == item.status)

        if item.closesSession {
            // Socket.IO errors close the session asynchronously: a poll may still get the final
            // close packet ("1") before the sid is forgotten.
            var gone = false
            for _ in 0..<3 where !gone {
                let (pollStatus, body) = try await relay.http("GET", "/socket.io/?EIO=4&transport=polling&sid=\(victim)")
                gone = pollStatus == 400
                if !gone { #expect(String(decoding: body, as: UTF8.self).hasSuffix("1"), "a closing session answers a poll with the close packet") }
            }
            #expect(gone)
        }
        // The bystander's session is untouched: its poll gets the CONNECT reply and what follows.
        let (pollStatus, body) = try await relay.http("GET", "/socket.io/?EIO=4&transport=polling&sid=\(bystander)")
        #expect(pollStatus == 200)
        #expect(String(decoding: body, as: UTF8.self).hasPrefix("40{\"sid\":"))
        await relay.terminate()
    }
}
