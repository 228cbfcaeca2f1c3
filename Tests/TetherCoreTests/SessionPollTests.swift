import Synchronization
import Testing
import MemoryStore
@testable import TetherCore

/// `Session.poll(into:onChange:)`, the non-suspending read an event-loop transport drives: it
/// delivers what memory holds, or registers one wake and says so; and an event's wire encoding
/// is made once however many subscribers send it (issue 16).
@Suite struct SessionPollTests {
    /// Counts the wake-ups a transport would schedule.
    final class Wakes: Sendable {
        let count = Atomic<Int>(0)
        var callback: @Sendable () -> Void { { self.count.add(1, ordering: .relaxed) } }
        var value: Int { count.load(ordering: .relaxed) }
    }

    static func relay(window: Int = 256, recentEvents: Int = 8192) async throws -> Relay {
        var configuration = RelayConfiguration()
        configuration.window = window
        configuration.recentEvents = recentEvents
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration)
        try await relay.start()
        return relay
    }

    static func drafts(_ range: ClosedRange<Int>) -> [EventDraft] {
        range.map { EventDraft(topic: "t", data: Array("\($0)".utf8)) }
    }

    @Test func aCaughtUpSessionWaitsAndIsWokenOnceByTheNextAppend() async throws {
        let relay = try await Self.relay()
        let session = try await relay.subscribe(Hello(), transport: "test", remote: "test")
        let wakes = Wakes()
        var buffer: [Event] = []
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .waiting)
        #expect(wakes.value == 0)
        _ = try await relay.publish(Self.drafts(1...3))
        _ = try await relay.publish(Self.drafts(4...5))
        // One registration, one wake, however many appends came before the transport polled.
        #expect(wakes.value == 1)
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .delivered)
        #expect(buffer.map(\.seq) == [1, 2, 3, 4, 5])
        buffer.removeAll()
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .waiting)
        #expect(buffer.isEmpty)
    }

    @Test func aFullWindowWaitsForTheAckThatFreesIt() async throws {
        let relay = try await Self.relay(window: 2)
        let session = try await relay.subscribe(Hello(), transport: "test", remote: "test")
        _ = try await relay.publish(Self.drafts(1...5))
        let wakes = Wakes()
        var buffer: [Event] = []
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .delivered)
        #expect(buffer.map(\.seq) == [1, 2])
        buffer.removeAll()
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .waiting)
        _ = try await relay.publish(Self.drafts(6...6))
        #expect(wakes.value == 0, "an append woke a session that its own full window holds back")
        try session.ack(2)
        #expect(wakes.value == 1)
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .delivered)
        #expect(buffer.map(\.seq) == [3, 4])
    }

    @Test func closingTheSessionWakesItsPollerWhichThenLearnsWhy() async throws {
        let relay = try await Self.relay()
        let session = try await relay.subscribe(Hello(), transport: "test", remote: "test")
        let wakes = Wakes()
        var buffer: [Event] = []
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .waiting)
        session.close(reason: "test")
        #expect(wakes.value == 1)
        #expect(throws: RelayError.self) { try session.poll(into: &buffer, onChange: wakes.callback) }
    }

    @Test func aReplayBehindTheMemoryWindowIsHandedToTheStoreRead() async throws {
        let relay = try await Self.relay(recentEvents: 10)
        _ = try await relay.publish(Self.drafts(1...50))
        let session = try await relay.subscribe(Hello(lastSequence: 0), transport: "test", remote: "test")
        let wakes = Wakes()
        var buffer: [Event] = []
        #expect(try session.poll(into: &buffer, onChange: wakes.callback) == .needsStoreRead)
        #expect(try await session.next(into: &buffer) == nil)
        #expect(buffer.first?.seq == 1)
        var seqs = buffer.map(\.seq)
        while seqs.last != 50 {
            buffer.removeAll()
            switch try session.poll(into: &buffer, onChange: wakes.callback) {
            case .delivered: seqs += buffer.map(\.seq)
            case .needsStoreRead:
                _ = try await session.next(into: &buffer)
                seqs += buffer.map(\.seq)
            case .waiting, .interrupted: Issue.record("stopped at \(seqs.last ?? 0) of 50")
                return
            }
        }
        #expect(seqs == Array(1...50))
    }

    /// A wire format that counts how often it is asked to encode.
    enum CountingFormat: WireFormat {
        static let cache = WireCache<Self>()

        static let encodings = Atomic<Int>(0)
        static func encode(_ event: Event) -> [UInt8] {
            encodings.add(1, ordering: .relaxed)
            return Array("\(event.seq)".utf8)
        }
    }

    @Test func anEventIsEncodedOnceForAllItsSubscribers() async throws {
        let relay = try await Self.relay()
        let subscribers = 20
        var sessions: [Session] = []
        for index in 0..<subscribers {
            sessions.append(try await relay.subscribe(Hello(clientID: "s\(index)"), transport: "test", remote: "test"))
        }
        _ = try await relay.publish(Self.drafts(1...100))
        let before = CountingFormat.encodings.load(ordering: .relaxed)
        var sent = 0
        for session in sessions {
            var buffer: [Event] = []
            #expect(try session.poll(into: &buffer, onChange: {}) == .delivered)
            for event in buffer { sent += event.encoded(as: CountingFormat.self).count > 0 ? 1 : 0 }
        }
        #expect(sent == 100 * subscribers)
        #expect(CountingFormat.encodings.load(ordering: .relaxed) - before == 100)
    }
}
