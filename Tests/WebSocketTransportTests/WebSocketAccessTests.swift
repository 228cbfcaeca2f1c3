import Foundation
import Testing
import TetherTesting

/// Tokens on `/v1/ws`: refused subscribers are told why and closed with a do-not-reconnect code;
/// publishing over the socket needs a producer token.
@Suite("WebSocket access tokens")
struct WebSocketAccessTests {
    static let subscriber = "subscriber-token-0123456789"
    static let producer = "producer-token-0123456789"
    static let environment = ["TETHER_AUTH_SUBSCRIBER_TOKENS": subscriber, "TETHER_AUTH_PRODUCER_TOKENS": producer]

    @Test(arguments: [("", 4510, "unauthorized"), ("?token=wrong-wrong-wrong-wrong", 4511, "forbidden")])
    func aSubscriberWithoutAValidTokenIsToldAndClosed(query: String, close: Int, code: String) async throws {
        let relay = try await RelayProcess.start(environment: Self.environment)
        let socket = RawSocket.connect(port: relay.port, path: "/v1/ws\(query)")
        let error = try await socket.next()
        #expect(error["type"] as? String == "error" && error["code"] as? String == code)
        #expect(try await socket.closed() == close)
        await relay.terminate()
    }

    @Test func publishingOverTheSocketNeedsAProducerToken() async throws {
        let relay = try await RelayProcess.start(environment: Self.environment)
        let socket = RawSocket.connect(port: relay.port, path: "/v1/ws?token=\(Self.subscriber)")
        _ = try await socket.hello()
        socket.send(#"{"type":"publish","topic":"t","data":1,"id":"p-1"}"#)
        let refused = try await socket.expect("error")
        #expect(refused["code"] as? String == "forbidden" && refused["id"] as? String == "p-1")
        let read = try await relay.http("GET", "/v1/events?after=0", headers: ["Authorization": "Bearer \(Self.subscriber)"])
        #expect(((try HTTP.json(read.body) as? [String: Any])?["events"] as? [Any])?.isEmpty == true)
        socket.close()
        await relay.terminate()
    }
}
