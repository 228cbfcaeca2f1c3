import Testing
import MemoryStore
@testable import TetherCore

/// A subscriber that is told about a live gap may acknowledge its end, as it may after a gap
/// declared in the welcome (found by the WebSocket transport's end-to-end tests).
@Suite struct SessionGapTests {
    @Test func liveGapEndCanBeAcknowledgedBeforeAnyLaterEventIsDelivered() async throws {
        var configuration = RelayConfiguration()
        configuration.lagCap = 5
        configuration.window = 2
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration)
        try await relay.start()
        let session = try await relay.subscribe(Hello(), transport: "test", remote: "test")
        _ = try await relay.publish((1...2).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        var buffer: [Event] = []
        #expect(try await session.next(into: &buffer) == nil)
        #expect(buffer.map(\.seq) == [1, 2])
        _ = try await relay.publish((3...20).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        try session.ack(2)
        buffer.removeAll()
        let interruption = try await session.next(into: &buffer)
        #expect(interruption == .gap(Gap(from: 3, to: 15, reason: .lagCap)))
        // Nothing after the gap was delivered yet; acknowledging the gap itself is still valid.
        try session.ack(15)
        #expect(session.progress.acked == 15)
        buffer.removeAll()
        #expect(try await session.next(into: &buffer) == nil)
        #expect(buffer.map(\.seq) == [16, 17])
    }
}
