import Foundation
import MemoryStore
import Testing
import TetherTesting
@testable import TetherCore

/// The relay's invariants under seeded random interleavings of publish, consume, ack,
/// disconnect, resume, time passing and trimming, checked against a model of what each client
/// is owed. A failing seed reproduces exactly.
@Suite struct RelayInvariantTests {
    /// Invariant 1: concurrent producers get unique, strictly increasing sequence numbers, and the
    /// log holds exactly what they were told was accepted.
    @Test func concurrentPublishesGetUniqueIncreasingSequences() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let producers = 8
        let perProducer = 200
        let results = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var mine: [UInt64] = []
                    for n in 0..<perProducer {
                        let batch = (0...(n % 3)).map { _ in EventDraft(topic: "p\(producer)", data: Array("\(n)".utf8)) }
                        mine += try await relay.publish(batch)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [[UInt64]]()) { $0.append($1) }
        }
        for mine in results {
            #expect(zip(mine, mine.dropFirst()).allSatisfy { $0 < $1 }, "one producer's sequences must increase")
        }
        let all = results.flatMap { $0 }.sorted()
        #expect(all == Array(1...UInt64(all.count)), "sequences are unique and leave no hole")
        let log = try await relay.events(after: 0, limit: all.count + 10).events
        #expect(log.map { $0.seq } == all)
    }

    struct Model {
        var token: String?
        var epoch: Epoch?
        var lastProcessed: UInt64 = 0
        var session: Session?
        var received = 0
    }

    @Test(arguments: 0..<200)
    func resumeYieldsExactlyTheRetainedEventsAfterTheCursorPlusDeclaredGaps(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let clock = TestClock()
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(ttl: 60, maxEvents: Int(20 + rng.next() % 200), maxBytes: 1 << 30)
        configuration.lagCap = Int(10 + rng.next() % 100)
        configuration.window = Int(1 + rng.next() % 16)
        configuration.recentEvents = Int(5 + rng.next() % 300)  // sometimes smaller than the log: replay reads the store
        configuration.clientRecordTTL = 1e9  // record expiry has its own test; here ids stay bound
        let store = MemoryBufferStore(configuration: .init(retention: configuration.retention))
        let relay = Relay(store: store, configuration: configuration, now: clock.source)
        try await relay.start()

        var published: [UInt64: [UInt8]] = [:]
        var clients = Array(repeating: Model(), count: 3)
        var buffer: [Event] = []
        buffer.reserveCapacity(configuration.window)

        for step in 0..<300 {
            let which = Int(rng.next() % 3)
            switch rng.next() % 10 {
            case 0, 1, 2:  // publish a few events
                let drafts = (0..<(1 + rng.next() % 12)).map { _ in
                    EventDraft(topic: rng.next() % 2 == 0 ? "a" : "b", data: Array("\(rng.next() % 1_000_000)".utf8), time: clock.now)
                }
                let seqs = try await relay.publish(drafts)
                for (seq, draft) in zip(seqs, drafts) { published[seq] = draft.data }
            case 3, 4, 5:  // the client reads what is ready
                guard let session = clients[which].session else { continue }
                let progress = session.progress
                guard progress.position < relay.logState.head, progress.inFlight < configuration.window else { continue }
                buffer.removeAll(keepingCapacity: true)
                let interruption = try await session.next(into: &buffer)
                var model = clients[which]
                if case .gap(let gap) = interruption {
                    #expect(gap.from == model.lastProcessed + 1, "seed \(seed) step \(step): a gap must start right after the cursor")
                    model.lastProcessed = gap.to
                }
                for event in buffer {
                    #expect(event.seq == model.lastProcessed + 1, "seed \(seed) step \(step): got \(event.seq) after \(model.lastProcessed) with no declared gap")
                    #expect(event.data == published[event.seq], "seed \(seed): seq \(event.seq) carries another event's data")
                    model.lastProcessed = event.seq
                    model.received += 1
                }
                clients[which] = model
            case 6:  // ack everything processed
                if let session = clients[which].session, session.progress.delivered > 0 {
                    try session.ack(session.progress.delivered)
                }
            case 7:  // connect or resume, or drop
                if let session = clients[which].session {
                    session.close(reason: "test drop")
                    clients[which].session = nil
                } else {
                    try await resume(&clients[which], id: "client-\(which)", relay: relay, seed: seed, step: step, published: published)
                }
            case 8:  // time passes; the monitor sweeps (TTL trim)
                clock.advance(by: Double(rng.next() % 40))
                await relay.sweep()
            default:  // a stranger tries to take a known client id without its secret
                if clients[which].token != nil {
                    await #expect(throws: RelayError.self) {
                        _ = try await relay.subscribe(Hello(clientID: "client-\(which)", resumeToken: "guess", lastSequence: 0), transport: "test", remote: "x")
                    }
                }
            }
        }
        // Invariant 4: whatever the clients did, the relay holds the log once, within its caps.
        let state = relay.logState
        #expect(state.depthEvents <= configuration.retention.maxEvents)
        #expect(relay.fanOut.recentCount <= configuration.recentEvents)
    }

    /// Resumes (or first connects) a model client and checks the welcome against the log.
    func resume(_ model: inout Model, id: String, relay: Relay, seed: UInt64, step: Int, published: [UInt64: [UInt8]]) async throws {
        let log = relay.logState
        let hello = Hello(clientID: id, resumeToken: model.token, epoch: model.epoch, lastSequence: model.token == nil ? nil : model.lastProcessed)
        let session = try await relay.subscribe(hello, transport: "test", remote: "127.0.0.1")
        let plan = session.welcome.plan
        if model.token == nil {
            #expect(plan.startAfter == log.head, "seed \(seed): a new client starts live")
            model.token = session.welcome.resumeToken
            model.epoch = session.welcome.epoch
            model.lastProcessed = log.head
        } else {
            #expect(session.welcome.resumeToken == nil, "a resume does not hand out the secret again")
            let last = model.lastProcessed
            let lagFloor = log.head > UInt64(relay.configuration.lagCap) ? log.head - UInt64(relay.configuration.lagCap) : 0
            let expectedStart = max(last, lagFloor, log.oldest - 1)
            #expect(plan.startAfter == expectedStart, "seed \(seed) step \(step): resume from \(last) with oldest \(log.oldest), head \(log.head)")
            if expectedStart > last {
                let gap = try #require(plan.gap, "seed \(seed) step \(step): events \(last + 1)...\(expectedStart) are missing and must be declared")
                #expect(gap.from == last + 1 && gap.to == expectedStart)
                // A declared gap is true: those events are really gone or beyond the lag cap.
                if gap.reason != .lagCap { #expect(gap.to < log.oldest) }
                model.lastProcessed = gap.to
            } else {
                #expect(plan.gap == nil)
            }
            #expect(session.welcome.replayCount == Int(log.head - plan.startAfter))
        }
        model.session = session
    }

    /// Invariant 4: subscribers that never read cost the relay a cursor each, not a copy of the
    /// log; when they do read, they get a declared gap and the newest events.
    @Test func laggingSubscribersDoNotGrowTheLog() async throws {
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(ttl: 300, maxEvents: 1000, maxBytes: 1 << 30)
        configuration.lagCap = 500
        configuration.recentEvents = 1000
        let relay = Relay(store: MemoryBufferStore(configuration: .init(retention: configuration.retention)), configuration: configuration)
        try await relay.start()
        var sessions: [Session] = []
        for n in 0..<300 {
            sessions.append(try await relay.subscribe(Hello(clientID: "idle-\(n)"), transport: "test", remote: "x"))
        }
        for _ in 0..<50 {
            _ = try await relay.publish((0..<100).map { EventDraft(topic: "t", data: Array("{\"n\":\($0)}".utf8)) })
        }
        #expect(relay.logState.depthEvents == 1000)
        #expect(relay.fanOut.recentCount == 1000)
        var buffer: [Event] = []
        let interruption = try await sessions[0].next(into: &buffer)
        #expect(interruption == .gap(Gap(from: 1, to: 4500, reason: .lagCap)))
        buffer.removeAll()
        #expect(try await sessions[0].next(into: &buffer) == nil)
        #expect(buffer.first?.seq == 4501)
        #expect(relay.counters.droppedLagCap.load(ordering: .relaxed) == 4500)
    }

    @Test func ackBeyondDeliveredIsRefusedAndChangesNothing() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "a"), transport: "test", remote: "x")
        _ = try await relay.publish([EventDraft(topic: "t", data: Array("1".utf8))])
        var buffer: [Event] = []
        _ = try await session.next(into: &buffer)
        #expect(throws: RelayError.self) { try session.ack(5) }
        #expect(session.progress.acked == 0)
        try session.ack(1)
        #expect(session.progress.acked == 1 && session.progress.inFlight == 0)
    }

    @Test func topicFilterSkipsOtherTopicsWithoutGaps() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "f", topics: ["b"]), transport: "test", remote: "x")
        _ = try await relay.publish((0..<30).map { EventDraft(topic: $0 % 3 == 0 ? "b" : "a", data: Array("\($0)".utf8)) })
        var buffer: [Event] = []
        while buffer.count < 10 {
            #expect(try await session.next(into: &buffer) == nil)
        }
        #expect(buffer.map(\.seq) == stride(from: 1, through: 28, by: 3).map(UInt64.init))
        #expect(buffer.allSatisfy { $0.topic == "b" })
    }

    @Test func windowHoldsDeliveryUntilAcked() async throws {
        var configuration = RelayConfiguration()
        configuration.window = 4
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration)
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "w"), transport: "test", remote: "x")
        _ = try await relay.publish((0..<10).map { EventDraft(topic: "t", data: Array("\($0)".utf8)) })
        var buffer: [Event] = []
        _ = try await session.next(into: &buffer)
        #expect(buffer.map(\.seq) == [1, 2, 3, 4])
        // The window is full: the next read waits until an ack frees room.
        let waiting = Task { () -> [UInt64] in
            var more: [Event] = []
            _ = try await session.next(into: &more)
            return more.map(\.seq)
        }
        try session.ack(2)
        let released = try await waiting.value
        #expect(released == [5, 6])
    }

    @Test func resumingAnotherConnectionOfTheSameClientSupersedesIt() async throws {
        let relay = Relay(store: MemoryBufferStore())
        try await relay.start()
        let first = try await relay.subscribe(Hello(clientID: "dup"), transport: "test", remote: "a")
        let token = try #require(first.welcome.resumeToken)
        let reader = Task { () -> RelayError? in
            var buffer: [Event] = []
            do { _ = try await first.next(into: &buffer) } catch let error as RelayError { return error }
            return nil
        }
        let second = try await relay.subscribe(Hello(clientID: "dup", resumeToken: token, lastSequence: 0), transport: "test", remote: "b")
        let ended = try await reader.value
        #expect(ended?.code == .superseded)
        #expect(second.welcome.resumed)
        let stats = relay.stats()
        #expect(stats.clients.count == 1 && stats.clients[0].state == "connected" && stats.clients[0].reconnects == 1)
    }

    @Test func staleAfterSilenceAndForgottenAfterTheRecordTTL() async throws {
        let clock = TestClock()
        var configuration = RelayConfiguration()
        configuration.staleTimeout = 90
        configuration.clientRecordTTL = 300
        let relay = Relay(store: MemoryBufferStore(), configuration: configuration, now: clock.source)
        try await relay.start()
        let session = try await relay.subscribe(Hello(clientID: "s"), transport: "test", remote: "x")
        clock.advance(by: 91)
        await relay.sweep()
        #expect(relay.stats().clients.first?.state == "stale")
        session.touch()
        #expect(relay.stats().clients.first?.state == "connected")
        session.close(reason: "gone")
        #expect(relay.stats().clients.first?.state == "disconnected")
        clock.advance(by: 301)
        await relay.sweep()
        #expect(relay.stats().clients.isEmpty)
        // The id is free again: a new client may claim it.
        let again = try await relay.subscribe(Hello(clientID: "s"), transport: "test", remote: "y")
        #expect(again.welcome.resumeToken != nil)
    }
}
