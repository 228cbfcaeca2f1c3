import MemoryStore
import Testing
import TetherTesting
@testable import TetherCore

/// An ephemeral hello (a one-shot command) is a client only while it is connected: never in the
/// stats or the connection counts, never saved, gone when it closes, and it cannot be resumed.
@Suite struct EphemeralClientTests {
    @Test func anEphemeralClientIsNeitherCountedNorKeptAfterItCloses() async throws {
        let relay = Relay(store: MemoryBufferStore(), configuration: RelayConfiguration())
        try await relay.start()
        let session = try await relay.subscribe(Hello(ephemeral: true), transport: "websocket", remote: "a")
        #expect(session.welcome.clientID.hasPrefix("e-"))
        #expect(session.welcome.resumeToken == nil)
        #expect(relay.stats().clients.isEmpty && relay.stats().totals.connections == 0)
        #expect(relay.connectionCounts().isEmpty)
        #expect(relay.sweepClients(now: .now).changed.isEmpty, "an ephemeral record would be saved")
        session.close(reason: "done")
        let id = session.welcome.clientID
        #expect(relay.clients.record(id) == nil, "the record outlived its connection")
        // A persistent client beside it is counted as before.
        _ = try await relay.subscribe(Hello(), transport: "websocket", remote: "b")
        #expect(relay.stats().totals.connections == 1)
    }

    @Test func anEphemeralHelloWithAnIdentityIsRefused() async throws {
        let relay = Relay(store: MemoryBufferStore(), configuration: RelayConfiguration())
        try await relay.start()
        let error = await #expect(throws: RelayError.self) {
            _ = try await relay.subscribe(Hello(clientID: "sensor-7", ephemeral: true), transport: "websocket", remote: "a")
        }
        #expect(error?.code.rawValue == "invalid_hello")
    }
}
