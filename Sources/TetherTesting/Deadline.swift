import Synchronization

/// A test step that did not finish in time: names the step and the bound, so a hung wait fails
/// its own test with a readable reason instead of stalling the whole run.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let what: String
    public let seconds: Double
    public var description: String { "\(what) did not finish within \(seconds) s" }
}

/// Runs `body` and returns its result, or throws ``DeadlineExceeded`` once `seconds` have passed.
///
/// On the deadline the body is cancelled and the caller resumes at once, whether or not the body
/// honours cancellation: the race is between two unstructured tasks (a task group would wait for
/// a body stuck in a call that ignores cancellation, such as a URLSession request that never
/// completes, which is the hang this exists to bound). A body still running afterwards finishes
/// or fails on its own; nobody waits for it.
public func withDeadline<T: Sendable>(
    _ seconds: Double, _ what: @autoclosure () -> String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    let exceeded = DeadlineExceeded(what: what(), seconds: seconds)
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.begin(continuation)
            let work = Task {
                do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
            }
            let timer = Task {
                guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
                race.finish(.failure(exceeded))
            }
            race.track([work, timer])
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The state of one ``withDeadline(_:_:_:)`` call, behind one lock: the caller's continuation
/// until the first of the body, the timer and the caller's cancellation resumes it (the others
/// find nothing left to resume), and the two tasks, cancelled once it is decided.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }
    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        // Cancelled before the continuation existed: resume it at once.
        let early = state.withLock { state -> Result<T, any Error>? in
            if state.outcome == nil { state.continuation = continuation }
            return state.outcome
        }
        if let early { continuation.resume(with: early) }
    }

    func track(_ tasks: [Task<Void, Never>]) {
        let decided = state.withLock { state -> Bool in
            state.tasks = tasks
            return state.outcome != nil
        }
        if decided { tasks.forEach { $0.cancel() } }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = result
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: result)
    }
}
