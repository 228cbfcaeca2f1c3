import Foundation
import PostgresStore
import Synchronization
import Testing
import TetherCore
import TetherTesting

/// The ``BufferStore`` contract, checked against a real PostgreSQL (a throw-away cluster; each
/// check gets its own database).
@Suite(.enabled(if: PostgresCluster.isAvailable, "PostgreSQL server binaries are not installed"))
struct PostgresBufferStoreTests {
    static let counter = Atomic<Int>(0)
    /// Generous: the tests share two cores with whatever else runs; a timeout here is no finding.
    static let testTimeout = Duration.seconds(20)

    /// A fresh database in the shared cluster, and a store over it.
    static func makeStore(retention: RetentionPolicy = RetentionPolicy()) async throws -> PostgresBufferStore {
        let cluster = try await PostgresCluster.shared()
        let name = "conformance_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)"
        let url = try cluster.createDatabase(name)
        var configuration = try PostgresBufferStore.Configuration(url: url, retention: retention)
        configuration.poolSize = 4
        configuration.operationTimeout = testTimeout
        return PostgresBufferStore(configuration: configuration)
    }

    @Test(arguments: BufferStoreConformance.Check.allCases)
    func conforms(_ check: BufferStoreConformance.Check) async throws {
        try await BufferStoreConformance.run(check) { retention in try await Self.makeStore(retention: retention) }
    }

    /// Invariant 2 over PostgreSQL: trims that race reads never make a silent skip.
    @Test func continuityModelFindsNoUndeclaredHole() async throws {
        var total = ContinuityModel.Report()
        for seed in UInt64(0)..<25 {
            total += try await ContinuityModel.run(seed: seed, steps: 150) { retention in try await Self.makeStore(retention: retention) }
        }
        #expect(total.racedReads > 10 && total.gaps > 10, "raced \(total.racedReads), gaps \(total.gaps)")
    }

    @Test func twoStoresOverOneDatabaseShareEpochAndOrder() async throws {
        let cluster = try await PostgresCluster.shared()
        let url = try cluster.createDatabase("shared_\(getpid())")
        var configuration = try PostgresBufferStore.Configuration(url: url)
        configuration.operationTimeout = Self.testTimeout
        let a = PostgresBufferStore(configuration: configuration)
        let b = PostgresBufferStore(configuration: configuration)
        let opened = try await (a.open(), b.open())
        #expect(opened.0.epoch == opened.1.epoch)
        let updates = b.headUpdates()
        let sequences = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for (index, store) in [a, b, a, b].enumerated() {
                group.addTask {
                    var mine: [UInt64] = []
                    for n in 0..<20 { mine += try await store.append(BufferStoreConformance.drafts(3, start: index * 100 + n * 3)).sequences }
                    return mine
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        #expect(sequences.sorted() == Array(1...240))
        // A reads up to the head it knows to be on disk: B's last commit is known once B's
        // NOTIFY arrives, or, as here, once A asks for the state.
        #expect(try await a.state().head == 240)
        #expect(try await a.read(after: 0, limit: 1000).map(\.seq) == Array(1...240))
        // B hears heads committed through A (LISTEN/NOTIFY) as well as its own. Closing B ends
        // the stream, which bounds the wait.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(30))
            try await b.close()
        }
        defer { watchdog.cancel() }
        var heard: UInt64 = 0
        for await head in updates {
            heard = max(heard, head)
            if heard == 240 { break }
        }
        #expect(heard == 240)
        try await a.close()
        try await b.close()
    }

    @Test func clientRecordsNeverGoBackInTime() async throws {
        let store = try await Self.makeStore()
        _ = try await store.open()
        let first = Date(timeIntervalSince1970: 1_800_000_000)
        var record = PersistedClient(
            id: "c-1", secretDigest: "d", epoch: "e", ackedSeq: 7, firstSeen: first, lastSeen: first.addingTimeInterval(10),
            reconnects: 1, delivered: 7, acked: 7, transport: "ws"
        )
        try await store.saveClients([record])
        var stale = record
        stale.ackedSeq = 3
        stale.lastSeen = first.addingTimeInterval(5)
        try await store.saveClients([stale])
        #expect(try await store.loadClient("c-1")?.ackedSeq == 7)
        record.ackedSeq = 9
        record.lastSeen = first.addingTimeInterval(20)
        try await store.saveClients([record])
        #expect(try await store.loadClient("c-1")?.ackedSeq == 9)
        #expect(try await store.loadClient("nobody") == nil)
        try await store.close()
    }
}
