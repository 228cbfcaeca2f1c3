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

    /// Read from the raw bytes: the test client library (HummingbirdWSClient) was seen, 1 run in 6
    /// under load, to deliver neither the error frame nor the close that arrived with the 101
    /// response, while 300 of 300 raw reads under the same load got both.
    @Test(arguments: [("", 4510, "unauthorized"), ("?token=wrong-wrong-wrong-wrong", 4511, "forbidden")])
    func aSubscriberWithoutAValidTokenIsToldAndClosed(query: String, close: Int, code: String) async throws {
        let relay = try await RelayProcess.start(environment: Self.environment)
        let socket = try RawTCPConnection(port: relay.port)
        try await socket.send(RawTCPConnection.webSocketUpgrade("/v1/ws\(query)", port: relay.port))
        let refused = await socket.refusedWebSocket()
        socket.close()
        let error = try #require(refused.frames.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "no error frame: \(refused) \(relay.log)")
        #expect(error["type"] as? String == "error" && error["code"] as? String == code)
        #expect(refused.closeCode == close)
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
