import MemoryStore
import Testing
import TetherTesting
@testable import TetherCore

/// Invariant 2 on the memory store: trims by count, bytes and TTL race producers and resuming,
/// slow and topic-filtered subscribers (``ContinuityModel``), and no subscriber ever meets an
/// undeclared hole. The SQLite and PostgreSQL suites run the same model on their stores.
@Suite struct SessionContinuityTests {
    static let seeds: [UInt64] = Array(0..<2000)

    @Test func everyScheduleDeliversEachOwedEventOrDeclaresItsGap() async throws {
        var total = ContinuityModel.Report()
        for seed in Self.seeds {
            let report = try await ContinuityModel.run(seed: seed, steps: 200) { retention in
                MemoryBufferStore(configuration: .init(retention: retention))
            }
            total += report
        }
        // The schedules really exercised the race and the gaps, not only the easy path.
        #expect(total.racedReads > 1000, "raced reads: \(total.racedReads)")
        #expect(total.gaps > 1000, "gaps: \(total.gaps)")
        #expect(total.delivered > 100_000, "delivered: \(total.delivered)")
    }

    /// The exact race of the report: a count cap evicts between the session's look at the log
    /// and its store read. The session must say so, not jump.
    @Test func evictionBetweenLookAndReadIsADeclaredGap() async throws {
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(ttl: 300, maxEvents: 100, maxBytes: 1 << 30)
        configuration.recentEvents = 10
        let store = MemoryBufferStore(configuration: .init(retention: configuration.retention))
        let racing = RacingStore(base: store)
        let relay = Relay(store: racing, configuration: configuration)
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "slow"), transport: "test", remote: "x")
        _ = try await relay.publish((0..<60).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        // The cursor (0) is behind the 10-event memory window: the next read goes to the store,
        // and 50 more events evict seq 1...10 first.
        racing.interfere {
            _ = try? await relay.publish((0..<50).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
            return []
        }
        var buffer: [Event] = []
        let interruption = try await session.next(into: &buffer)
        #expect(interruption == .gap(Gap(from: 1, to: 10, reason: .evicted)))
        #expect(buffer.isEmpty)
        #expect(try await session.next(into: &buffer) == nil)
        #expect(buffer.first?.seq == 11)
    }

    /// A number from a client past 2^63 reaches the core only through a checked edge; the core's
    /// own reads still answer anything, up to `UInt64.max`, without trapping.
    @Test(arguments: [UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 1, UInt64.max])
    func readsAfterAnySequenceAnswerWithoutTrapping(after: UInt64) async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        _ = try await relay.publish((0..<5).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        let page = try await relay.events(after: after, limit: 10_000)
        #expect(page.events.isEmpty && page.log.head == 5)
        var recent = RecentEvents(maxEvents: 10, maxBytes: 1 << 20)
        recent.append(contentsOf: try await relay.store.read(after: 0, limit: 10))
        var buffer: [Event] = []
        #expect(recent.covers(after: after))
        #expect(recent.read(after: after, limit: 10, into: &buffer) == 0)
        #expect(try await relay.store.read(after: after, limit: 10).isEmpty)
    }

    @Test(arguments: ["9223372036854775807", "0", "42"])
    func clientSequencesInRangeParse(text: String) {
        #expect(ClientSequence.parse(text) == UInt64(text))
    }

    @Test(arguments: ["9223372036854775808", "18446744073709551615", "18446744073709551616", "-1", "+1", "1.5", "1e3", "", " 1", "0x10", "١"])
    func clientSequencesOutOfRangeOrMalformedAreRefused(text: String) {
        #expect(ClientSequence.parse(text) == nil)
    }

    @Test func jsonSequencesAcceptWholeFloatsUpToTwoToThe53() {
        #expect(ClientSequence.parse(json: "1e3") == 1000)
        #expect(ClientSequence.parse(json: "12.0") == 12)
        #expect(ClientSequence.parse(json: "9007199254740992") == 9_007_199_254_740_992)
        #expect(ClientSequence.parse(json: "1e16") == nil)
        #expect(ClientSequence.parse(json: "1e19") == nil)
        #expect(ClientSequence.parse(json: "1.5") == nil)
        #expect(ClientSequence.parse(json: "-0") == nil)
        #expect(ClientSequence.parse(json: "NaN") == nil)
        #expect(ClientSequence.parse(json: "inf") == nil)
    }
}
