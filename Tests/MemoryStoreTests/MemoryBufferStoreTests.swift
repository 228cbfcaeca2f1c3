import MemoryStore
import Testing
import TetherCore
import TetherTesting

@Suite struct MemoryBufferStoreTests {
    @Test(arguments: BufferStoreConformance.Check.allCases)
    func conformsToTheBufferStoreContract(_ check: BufferStoreConformance.Check) async throws {
        try await BufferStoreConformance.run(check) { retention in
            MemoryBufferStore(configuration: .init(retention: retention))
        }
    }

    @Test func everyStartIsANewEpoch() async throws {
        let first = try await MemoryBufferStore().open()
        let second = try await MemoryBufferStore().open()
        #expect(first.epoch != second.epoch)
    }
}
