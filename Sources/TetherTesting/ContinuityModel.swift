public import TetherCore
import Logging
import Synchronization
public import struct Foundation.Date

/// Invariant 2 as a seeded model check, for every store: no subscriber ever skips an event it
/// was owed without being told.
///
/// Each schedule drives one relay over a store from `make` through random steps: producers
/// publish, subscribers (some filtered by topic, some slow) read, ack, drop and resume, time
/// passes and the sweep trims by TTL, while the count and byte caps evict on every append. The
/// race that matters, a trim landing between a session's look at the log and its store read, is
/// forced on purpose: the store is wrapped so that a scheduled publish or sweep runs *inside* a
/// session's read, before the store answers. Every event a subscriber receives is checked
/// against the model of the log: it must be the next event of its topics after the one before,
/// or follow a declared gap that starts right after it, and a gap other than `lag_cap` must
/// name only events the store no longer holds. A failure names the seed and step.
public enum ContinuityModel {
    public typealias Factory = @Sendable (RetentionPolicy) async throws -> any BufferStore

    /// What one schedule did, so a test can see that the races were really exercised.
    public struct Report: Sendable {
        public var delivered = 0
        public var gaps = 0
        /// Store reads into which a publish or sweep was injected.
        public var racedReads = 0

        public init() {}

        public static func += (total: inout Report, one: Report) {
            total.delivered += one.delivered
            total.gaps += one.gaps
            total.racedReads += one.racedReads
        }
    }

    public static func run(seed: UInt64, steps: Int = 300, make: Factory) async throws -> Report {
        var rng = SplitMix64(seed: seed)
        let clock = TestClock()
        var configuration = RelayConfiguration()
        configuration.retention = RetentionPolicy(
            ttl: 60, maxEvents: Int(10 + rng.next() % 120), maxBytes: rng.next() % 3 == 0 ? 4_000 + Int(rng.next() % 8_000) : 1 << 30
        )
        configuration.lagCap = Int(20 + rng.next() % 200)
        configuration.window = Int(1 + rng.next() % 32)
        configuration.recentEvents = Int(1 + rng.next() % 40)  // small: most reads go to the store
        configuration.readPageBytes = 200 + Int(rng.next() % 4_000)  // pages end early by bytes
        configuration.clientRecordTTL = 1e9
        let store = RacingStore(base: try await make(configuration.retention))
        // Quiet: thousands of schedules would log every transition to the test output.
        let relay = Relay(store: store, configuration: configuration, logger: Logger(label: "continuity-model") { _ in SwiftLogNoOpLogHandler() }, now: clock.source)
        try await relay.start()

        var log: [UInt64: String] = [:]  // seq → topic, for every event ever accepted
        var clients = (0..<4).map { index in Subscriber(id: "model-\(index)", topics: index == 3 ? ["b"] : nil) }
        var report = Report()

        let fail: @Sendable (String) -> ConformanceFailure = { message in
            ConformanceFailure(message: "continuity, seed \(seed): \(message)")
        }

        for step in 0..<steps {
            let which = Int(rng.next() % UInt64(clients.count))
            switch rng.next() % 12 {
            case 0, 1, 2:
                let drafts = publishDrafts(&rng, time: clock.now)
                for (seq, draft) in zip(try await relay.publish(drafts), drafts) { log[seq] = draft.topic }
            case 3, 4, 5, 6:
                guard let session = clients[which].session, session.progress.inFlight < configuration.window,
                    hasSomethingFor(clients[which], at: session.progress.position, view: relay.logState, lagCap: configuration.lagCap, log: log)
                else { continue }
                // The race: this read's store call first lets a producer evict, or a sweep expire.
                let raced = rng.next() % 2 == 0
                if raced {
                    let drafts = publishDrafts(&rng, time: clock.now)
                    let advance = rng.next() % 3 == 0 ? Double(rng.next() % 90) : 0
                    store.interfere {
                        if advance > 0 {
                            clock.advance(by: advance)
                            await relay.sweep()
                        }
                        if let seqs = try? await relay.publish(drafts) {
                            return zip(seqs, drafts).map { ($0, $1.topic) }
                        }
                        return []
                    }
                }
                let (interruption, buffer) = try await next(session, step: step, fail: fail)
                let injected = store.settle()
                if injected.ran { report.racedReads += 1 }
                for (seq, topic) in injected.accepted { log[seq] = topic }
                var model = clients[which]
                if case .gap(let gap) = interruption {
                    // A filtered cursor moves past other topics' events, so a gap may start
                    // later than the last event received, never past one it was owed.
                    guard gap.from > model.last, gap.to >= gap.from, model.owesNothing(before: gap.from, log: log) else {
                        throw fail("step \(step): \(model.id) was told of gap \(gap.from)...\(gap.to) after \(model.last)")
                    }
                    if gap.reason != GapReason.lagCap {
                        let oldest = try await store.base.state().oldest
                        guard gap.to < oldest else {
                            throw fail("step \(step): gap \(gap.from)...\(gap.to) (\(gap.reason.rawValue)) names events the store still holds (oldest \(oldest))")
                        }
                    }
                    model.last = gap.to
                    report.gaps += 1
                }
                for event in buffer {
                    guard event.seq > model.last else {
                        throw fail("step \(step): \(model.id) got \(event.seq) again after \(model.last)")
                    }
                    guard model.owesNothing(before: event.seq, log: log) else {
                        throw fail("step \(step): \(model.id) got \(event.seq) after \(model.last) with no gap declared for what it was owed between")
                    }
                    guard log[event.seq] == event.topic, model.wants(event.topic) else {
                        throw fail("step \(step): \(model.id) got seq \(event.seq) of topic \(event.topic), not the logged one")
                    }
                    model.last = event.seq
                    report.delivered += 1
                }
                clients[which] = model
            case 7:
                if let session = clients[which].session, session.progress.delivered > 0, rng.next() % 4 != 0 {
                    try session.ack(session.progress.delivered)
                }
            case 8, 9:
                if let session = clients[which].session {
                    session.close(reason: "model drop")
                    clients[which].session = nil
                } else {
                    try await resume(&clients[which], relay: relay, log: log, fail: fail, step: step)
                }
            default:
                clock.advance(by: Double(rng.next() % 45))
                await relay.sweep()
            }
        }
        for client in clients { client.session?.close(reason: "model done") }
        try await store.close()
        return report
    }

    /// Whether `next` has something to return at once (events of its topics, or a gap), so the
    /// model never waits on a session that is rightly idle.
    static func hasSomethingFor(_ model: Subscriber, at position: UInt64, view: LogState, lagCap: Int, log: [UInt64: String]) -> Bool {
        guard view.head > position else { return false }
        if position + 1 < view.oldest || view.head - position > UInt64(lagCap) { return true }
        return (position + 1...view.head).contains { seq in log[seq].map { model.wants($0) } ?? false }
    }

    /// `session.next`, bounded: a read that should return at once but waits is a failure, not
    /// a hung suite.
    static func next(_ session: Session, step: Int, fail: @escaping @Sendable (String) -> ConformanceFailure) async throws -> (Session.Interruption?, [Event]) {
        try await withThrowingTaskGroup(of: (Session.Interruption?, [Event])?.self) { group in
            group.addTask {
                var buffer: [Event] = []
                let interruption = try await session.next(into: &buffer)
                return (interruption, buffer)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw fail("step \(step): next() waited although the log had something for the subscriber")
            }
            return result
        }
    }

    struct Subscriber {
        let id: String
        let topics: Set<String>?
        var token: String?
        var epoch: Epoch?
        /// Every event of its topics up to here was received, filtered out or declared a gap.
        var last: UInt64 = 0
        var session: Session?

        init(id: String, topics: Set<String>?) {
            self.id = id
            self.topics = topics
        }

        func wants(_ topic: String) -> Bool { topics?.contains(topic) ?? true }

        /// Whether no event of its topics lies between `last` and `seq` (exclusive).
        func owesNothing(before seq: UInt64, log: [UInt64: String]) -> Bool {
            guard seq > last + 1 else { return true }
            return !(last + 1..<seq).contains { log[$0].map(wants) ?? true }
        }
    }

    static func resume(_ model: inout Subscriber, relay: Relay, log: [UInt64: String], fail: (String) -> ConformanceFailure, step: Int) async throws {
        let hello = Hello(
            clientID: model.id, resumeToken: model.token, epoch: model.epoch,
            lastSequence: model.token == nil ? nil : model.last, topics: model.topics.map { Array($0) }
        )
        let session = try await relay.subscribe(hello, transport: "model", remote: "127.0.0.1")
        let plan = session.welcome.plan
        if model.token == nil {
            model.token = session.welcome.resumeToken
            model.epoch = session.welcome.epoch
        } else if let gap = plan.gap {
            guard gap.from > model.last, model.owesNothing(before: gap.from, log: log) else {
                throw fail("step \(step): \(model.id) resumed after \(model.last) and was told of gap \(gap.from)...\(gap.to)")
            }
        } else if plan.startAfter < model.last || !model.owesNothing(before: plan.startAfter + 1, log: log) {
            throw fail("step \(step): \(model.id) resumed after \(model.last) but its cursor starts after \(plan.startAfter) with no gap")
        }
        model.last = plan.startAfter
        model.session = session
    }

    static func publishDrafts(_ rng: inout SplitMix64, time: Date) -> [EventDraft] {
        (0..<(1 + rng.next() % 16)).map { _ in
            let size = rng.next() % 5 == 0 ? 400 + Int(rng.next() % 800) : 1 + Int(rng.next() % 40)
            return EventDraft(topic: rng.next() % 3 == 0 ? "b" : "a", data: Array(repeating: UInt8(ascii: "7"), count: size), time: time)
        }
    }
}

/// A store that runs one scheduled interference inside the next read, before the base store
/// answers: the trim-between-look-and-read race, on demand.
public final class RacingStore: BufferStore {
    public typealias Interference = @Sendable () async -> [(UInt64, String)]
    public let base: any BufferStore
    private let pending = Mutex<Interference?>(nil)
    private let outcome = Mutex<(ran: Bool, accepted: [(UInt64, String)])>((false, []))

    public init(base: any BufferStore) {
        self.base = base
    }

    /// Runs `body` inside the next read, before the base store answers; what it returns (the
    /// events it published, with their topics) comes back from ``settle()``.
    public func interfere(_ body: @escaping Interference) {
        pending.withLock { $0 = body }
    }

    /// What the interference did, if a read ran it; drops one that no read picked up.
    public func settle() -> (ran: Bool, accepted: [(UInt64, String)]) {
        pending.withLock { $0 = nil }
        return outcome.withLock { current in
            defer { current = (false, []) }
            return current
        }
    }

    public func read(after seq: UInt64, limit: Int, maxBytes: Int) async throws -> [Event] {
        if let body = pending.withLock({ slot in defer { slot = nil }; return slot }) {
            let accepted = await body()
            outcome.withLock { $0 = (true, $0.accepted + accepted) }
        }
        return try await base.read(after: seq, limit: limit, maxBytes: maxBytes)
    }

    public func open() async throws -> LogState { try await base.open() }
    public func append(_ drafts: [EventDraft]) async throws -> AppendOutcome { try await base.append(drafts) }
    public func trim(_ policy: RetentionPolicy, now: Date) async throws -> TrimOutcome { try await base.trim(policy, now: now) }
    public func state() async throws -> LogState { try await base.state() }
    public func close() async throws { try await base.close() }
}
