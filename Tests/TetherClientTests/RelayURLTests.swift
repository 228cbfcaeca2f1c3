import Testing
import TetherClient

/// Where a relay URL is expected, the forms people write all reach the WebSocket endpoint.
@Suite struct RelayURLTests {
    @Test(arguments: [
        ("ws://127.0.0.1:8765/v1/ws", "ws://127.0.0.1:8765/v1/ws"),
        ("127.0.0.1:8765", "ws://127.0.0.1:8765/v1/ws"),
        ("localhost:8765/", "ws://localhost:8765/v1/ws"),
        ("http://relay.example:8765/", "ws://relay.example:8765/v1/ws"),
        ("HTTP://relay.example:8765", "ws://relay.example:8765/v1/ws"),
        ("https://relay.example", "wss://relay.example/v1/ws"),
        ("wss://relay.example/v1/ws?token=abc", "wss://relay.example/v1/ws?token=abc"),
        ("ws://relay.example:8765?token=abc", "ws://relay.example:8765/v1/ws?token=abc"),
        ("http://proxy.example/tether/v1/ws", "ws://proxy.example/tether/v1/ws"),
    ])
    func relayAddressesBecomeTheWebSocketEndpoint(written: String, endpoint: String) {
        #expect(RelayURL.normalize(written) == endpoint)
    }
}
