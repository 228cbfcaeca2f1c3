import Synchronization
import Testing
import TetherTesting

/// The test kit's `withDeadline`, which bounds every wait that could otherwise hang a test run.
@Suite struct DeadlineTests {
    /// The case it exists for: a body that ignores cancellation (as a URLSession request that
    /// never completes does) still lets the caller go on at the deadline, with the step named.
    @Test func aBodyThatIgnoresCancellationEndsAtTheDeadline() async throws {
        let parked = Parked()
        await #expect {
            try await withDeadline(0.2, "a parked step") { await parked.wait() }
        } throws: { error in
            (error as? DeadlineExceeded)?.description == "a parked step did not finish within 0.2 s"
        }
        parked.release()
    }

    @Test func aBodyThatFinishesInTimeGivesItsResultOrItsError() async throws {
        #expect(try await withDeadline(30, "adding") { 40 + 2 } == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) { try await withDeadline(30, "refusing") { throw Refused() } }
    }
}

/// A body that waits until released and ignores cancellation meanwhile.
private final class Parked: Sendable {
    /// Released yet, and the waiter to resume on release.
    private let state = Mutex<(released: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if !state.released { state.waiter = continuation }
                return state.released
            }
            if resumeNow { continuation.resume() }
        }
    }

    func release() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.released = true
            return state.waiter.take()
        }?.resume()
    }
}
