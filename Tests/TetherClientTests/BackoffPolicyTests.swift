import Testing
import TetherClient

@Suite struct BackoffPolicyTests {
    @Test func defaultScheduleDoublesFromOneSecondToThirty() {
        #expect(BackoffPolicy().schedule == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30].map { Duration.seconds($0) })
    }
}
