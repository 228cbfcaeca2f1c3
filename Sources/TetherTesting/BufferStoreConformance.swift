public import TetherCore
import struct Foundation.Date

/// The contract of ``BufferStore`` as executable checks, for every store plugin's tests:
///
/// ```swift
/// @Test(arguments: BufferStoreConformance.Check.allCases)
/// func conforms(_ check: BufferStoreConformance.Check) async throws {
///     try await BufferStoreConformance.run(check) { retention in MyStore(...) }
/// }
/// ```
///
/// Each check opens a fresh store from `make` and throws ``ConformanceFailure`` on a breach.
public enum BufferStoreConformance {
    public enum Check: String, CaseIterable, Sendable, CustomStringConvertible {
        case sequencesStartAtOneAndIncrease
        case readReturnsEventsAfterInOrder
        case readEndsAtItsByteBoundButAlwaysMakesProgress
        case dataBytesAreKeptExactly
        case duplicateProducerIDIsNotStoredTwice
        case countCapEvictsOldestAndRecordsWhy
        case byteCapEvictsOldest
        case ttlTrimRemovesOnlyExpiredEvents
        case stateReportsDepth

        public var description: String { rawValue }
    }

    public typealias Factory = @Sendable (RetentionPolicy) async throws -> any BufferStore

    public static func run(_ check: Check, make: Factory) async throws {
        switch check {
        case .sequencesStartAtOneAndIncrease:
            let store = try await make(RetentionPolicy())
            let opened = try await store.open()
            try expect(opened.head == 0 && opened.depthEvents == 0, "a new log starts empty at head 0, got \(opened)")
            let first = try await store.append(drafts(3))
            let second = try await store.append(drafts(2, start: 3))
            try expect(first.sequences == [1, 2, 3], "first append got \(first.sequences)")
            try expect(second.sequences == [4, 5], "second append got \(second.sequences)")
            try expect(second.log.head == 5 && second.log.oldest == 1, "log after appends: \(second.log)")
            try await store.close()
        case .readReturnsEventsAfterInOrder:
            let store = try await make(RetentionPolicy())
            _ = try await store.open()
            _ = try await store.append(drafts(10))
            let after3 = try await store.read(after: 3, limit: 4)
            try expect(after3.map(\.seq) == [4, 5, 6, 7], "read(after: 3, limit: 4) gave \(after3.map(\.seq))")
            let tail = try await store.read(after: 8, limit: 100)
            try expect(tail.map(\.seq) == [9, 10], "read(after: 8) gave \(tail.map(\.seq))")
            let none = try await store.read(after: 10, limit: 100)
            try expect(none.isEmpty, "read past head gave \(none.map(\.seq))")
            try await store.close()
        case .readEndsAtItsByteBoundButAlwaysMakesProgress:
            let store = try await make(RetentionPolicy())
            _ = try await store.open()
            let payload = Array(repeating: UInt8(ascii: "7"), count: 1000)
            _ = try await store.append((0..<10).map { _ in EventDraft(topic: "t", data: payload) })
            let one = payload.count + 1 + Event.fixedOverheadBytes
            let page = try await store.read(after: 0, limit: 10, maxBytes: 3 * one)
            try expect(page.map(\.seq) == [1, 2, 3], "read(maxBytes: 3 events' worth) gave \(page.map(\.seq))")
            let tiny = try await store.read(after: 4, limit: 10, maxBytes: 1)
            try expect(tiny.map(\.seq) == [5], "a byte bound smaller than one event must still return it, got \(tiny.map(\.seq))")
            try await store.close()
        case .dataBytesAreKeptExactly:
            let store = try await make(RetentionPolicy())
            _ = try await store.open()
            let payload = Array(#"{"a": 1.50, "b" : [true,null], "u": "\u00e9 é"}"#.utf8)
            let time = Date(timeIntervalSince1970: 1_700_000_000.25)
            _ = try await store.append([EventDraft(topic: "t/é", data: payload, producerID: "p-1", time: time)])
            let event = try await store.read(after: 0, limit: 1).first
            try expect(event?.data == payload, "data bytes changed: \(event.map { String(decoding: $0.data, as: UTF8.self) } ?? "nil")")
            try expect(event?.topic == "t/é" && event?.producerID == "p-1", "topic or id changed: \(String(describing: event))")
            let drift = abs((event?.time.timeIntervalSince1970 ?? 0) - time.timeIntervalSince1970)
            try expect(drift < 0.001, "time drifted by \(drift) s")
            try await store.close()
        case .duplicateProducerIDIsNotStoredTwice:
            let store = try await make(RetentionPolicy())
            _ = try await store.open()
            let first = try await store.append([EventDraft(topic: "t", data: Array("1".utf8), producerID: "same")])
            let again = try await store.append([
                EventDraft(topic: "t", data: Array("2".utf8)),
                EventDraft(topic: "t", data: Array("1".utf8), producerID: "same"),
            ])
            try expect(first.sequences == [1], "first publish got \(first.sequences)")
            try expect(again.sequences == [2, 1], "retry of producer id should map to seq 1, got \(again.sequences)")
            try expect(again.appended.map(\.seq) == [2], "only the new event is appended, got \(again.appended.map(\.seq))")
            let all = try await store.read(after: 0, limit: 10)
            try expect(all.map(\.seq) == [1, 2], "log holds \(all.map(\.seq))")
            try await store.close()
        case .countCapEvictsOldestAndRecordsWhy:
            let store = try await make(RetentionPolicy(ttl: 3600, maxEvents: 5, maxBytes: 1 << 30))
            _ = try await store.open()
            let outcome = try await store.append(drafts(8))
            try expect(outcome.log.oldest == 4 && outcome.log.depthEvents == 5, "after 8 appends with cap 5: \(outcome.log)")
            try expect(outcome.log.trims.reason(for: 3) == .evicted, "seq 3 should be recorded as evicted")
            let all = try await store.read(after: 0, limit: 100)
            try expect(all.map(\.seq) == [4, 5, 6, 7, 8], "retained \(all.map(\.seq))")
            try await store.close()
        case .byteCapEvictsOldest:
            let payload = Array(repeating: UInt8(ascii: "1"), count: 1000)
            let store = try await make(RetentionPolicy(ttl: 3600, maxEvents: 1000, maxBytes: 3500))
            _ = try await store.open()
            let outcome = try await store.append((0..<6).map { _ in EventDraft(topic: "t", data: payload) })
            try expect(outcome.log.depthBytes <= 3500, "depth \(outcome.log.depthBytes) bytes is over the 3500 cap")
            try expect(outcome.log.depthEvents == 3 && outcome.log.oldest == 4, "kept \(outcome.log)")
            try await store.close()
        case .ttlTrimRemovesOnlyExpiredEvents:
            let store = try await make(RetentionPolicy(ttl: 60, maxEvents: 1000, maxBytes: 1 << 30))
            _ = try await store.open()
            let base = Date(timeIntervalSince1970: 1_800_000_000)
            let old = (0..<3).map { EventDraft(topic: "t", data: Array("\($0)".utf8), time: base) }
            let fresh = (0..<2).map { EventDraft(topic: "t", data: Array("\($0)".utf8), time: base.addingTimeInterval(100)) }
            _ = try await store.append(old + fresh)
            let trimmed = try await store.trim(RetentionPolicy(ttl: 60, maxEvents: 1000, maxBytes: 1 << 30), now: base.addingTimeInterval(90))
            try expect(trimmed.removedEvents == 3, "expected the 3 expired events removed, got \(trimmed.removedEvents)")
            try expect(trimmed.log.oldest == 4 && trimmed.log.head == 5, "after trim: \(trimmed.log)")
            try expect(trimmed.log.trims.reason(for: 2) == .ttl, "seq 2 should be recorded as expired by TTL")
            let again = try await store.trim(RetentionPolicy(ttl: 60, maxEvents: 1000, maxBytes: 1 << 30), now: base.addingTimeInterval(90))
            try expect(again.removedEvents == 0, "a second trim at the same time removed \(again.removedEvents)")
            try await store.close()
        case .stateReportsDepth:
            let store = try await make(RetentionPolicy())
            _ = try await store.open()
            let events = drafts(4)
            _ = try await store.append(events)
            let state = try await store.state()
            let expectedBytes = events.enumerated().map { $1.sequenced(UInt64($0 + 1)).retainedBytes }.reduce(0, +)
            try expect(state.depthEvents == 4 && state.head == 4 && state.oldest == 1, "state \(state)")
            try expect(state.depthBytes == expectedBytes, "depth \(state.depthBytes) bytes, expected \(expectedBytes)")
            try await store.close()
        }
    }

    /// `count` small drafts with payloads `start`, `start + 1`, ...
    public static func drafts(_ count: Int, start: Int = 0, topic: String = "t") -> [EventDraft] {
        (start..<(start + count)).map { EventDraft(topic: topic, data: Array("{\"n\":\($0)}".utf8)) }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(message: message()) }
    }
}

/// A ``BufferStore`` broke its contract.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
