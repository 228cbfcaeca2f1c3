import Testing
@testable import TetherCore

@Suite struct ReplayPlanTests {
    static let epoch = Epoch(rawValue: "aaaaaaaaaaaaaaaa")

    /// A log with events `oldest...head` retained; everything below `oldest` left for `reason`.
    static func log(head: UInt64, oldest: UInt64, trimmedFor reason: GapReason = .ttl) -> LogState {
        var trims = TrimHistory()
        if oldest > 1 { trims.record(through: oldest - 1, reason: reason) }
        return LogState(epoch: epoch, head: head, oldest: oldest, depthEvents: Int(head - oldest + 1), depthBytes: 0, trims: trims)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var request: ReplayPlan.Request
        var log: LogState
        var lagCap: Int
        var startAfter: UInt64
        var gap: Gap?
        var reset = false
        var testDescription: String { name }
    }

    @Test(arguments: [
        Case(name: "live only", request: .live, log: log(head: 50, oldest: 1), lagCap: 1000, startAfter: 50),
        Case(name: "resume, nothing missed", request: .resume(epoch: epoch, lastSequence: 50), log: log(head: 50, oldest: 1), lagCap: 1000, startAfter: 50),
        Case(name: "resume within retention", request: .resume(epoch: epoch, lastSequence: 20), log: log(head: 50, oldest: 10), lagCap: 1000, startAfter: 20),
        Case(name: "resume right at the oldest", request: .resume(epoch: epoch, lastSequence: 9), log: log(head: 50, oldest: 10), lagCap: 1000, startAfter: 9),
        Case(name: "resume below retention: ttl gap", request: .resume(epoch: epoch, lastSequence: 5), log: log(head: 50, oldest: 10), lagCap: 1000,
             startAfter: 9, gap: Gap(from: 6, to: 9, reason: .ttl)),
        Case(name: "resume below retention: evicted gap", request: .resume(epoch: epoch, lastSequence: 0), log: log(head: 50, oldest: 10, trimmedFor: .evicted), lagCap: 1000,
             startAfter: 9, gap: Gap(from: 1, to: 9, reason: .evicted)),
        Case(name: "lag cap: newest 1000 of 1500 missed", request: .resume(epoch: epoch, lastSequence: 100), log: log(head: 1600, oldest: 1), lagCap: 1000,
             startAfter: 600, gap: Gap(from: 101, to: 600, reason: .lagCap)),
        Case(name: "lag cap and trim: the larger cut wins", request: .resume(epoch: epoch, lastSequence: 100), log: log(head: 1600, oldest: 800), lagCap: 1000,
             startAfter: 799, gap: Gap(from: 101, to: 799, reason: .ttl)),
        Case(name: "exactly at the lag cap", request: .resume(epoch: epoch, lastSequence: 600), log: log(head: 1600, oldest: 1), lagCap: 1000, startAfter: 600),
        Case(name: "other epoch: reset from the retained log", request: .resume(epoch: Epoch(rawValue: "bbbbbbbbbbbbbbbb"), lastSequence: 7), log: log(head: 50, oldest: 10), lagCap: 1000,
             startAfter: 9, reset: true),
        Case(name: "other epoch with a long log: reset bounded by the lag cap", request: .resume(epoch: Epoch(rawValue: "bbbbbbbbbbbbbbbb"), lastSequence: 7), log: log(head: 3000, oldest: 1), lagCap: 1000,
             startAfter: 2000, gap: Gap(from: 1, to: 2000, reason: .lagCap), reset: true),
        Case(name: "no epoch, sequence past head: the log was lost, reset", request: .resume(epoch: nil, lastSequence: 900), log: log(head: 50, oldest: 1), lagCap: 1000,
             startAfter: 0, reset: true),
        Case(name: "history of 10", request: .history(count: 10), log: log(head: 50, oldest: 1), lagCap: 1000, startAfter: 40),
        Case(name: "history larger than retention", request: .history(count: 100), log: log(head: 50, oldest: 30), lagCap: 1000, startAfter: 29),
    ])
    func plansWhatTheClientIsOwed(_ c: Case) throws {
        let plan = try ReplayPlan.make(for: c.request, log: c.log, lagCap: c.lagCap)
        #expect(plan.startAfter == c.startAfter)
        #expect(plan.gap == c.gap)
        #expect(plan.reset == c.reset)
        #expect(plan.head == c.log.head)
    }

    @Test func sequenceFromTheFutureOfThisEpochIsRefused() {
        #expect(throws: RelayError.futureSequence(51, head: 50)) {
            try ReplayPlan.make(for: .resume(epoch: Self.epoch, lastSequence: 51), log: Self.log(head: 50, oldest: 1), lagCap: 1000)
        }
    }
}

@Suite struct TrimHistoryTests {
    @Test func mergesRunsAndAnswersByRange() {
        var history = TrimHistory()
        history.record(through: 10, reason: .ttl)
        history.record(through: 20, reason: .ttl)
        history.record(through: 30, reason: .evicted)
        history.record(through: 25, reason: .ttl)  // not past the last range: ignored
        #expect(history.ranges.count == 2)
        #expect(history.reason(for: 1) == .ttl)
        #expect(history.reason(for: 20) == .ttl)
        #expect(history.reason(for: 21) == .evicted)
        #expect(history.reason(for: 31) == nil)
    }

    @Test func keepsOnlyTheNewestRanges() {
        var history = TrimHistory()
        for index in 1...200 { history.record(through: UInt64(index), reason: index.isMultiple(of: 2) ? .ttl : .evicted) }
        #expect(history.ranges.count == TrimHistory.capacity)
        #expect(history.reason(for: 200) == .ttl)
        #expect(history.reason(for: 1) != nil)
    }
}
