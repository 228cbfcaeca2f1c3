public import TetherCore
import PostgresNIO
import Synchronization

/// A PostgreSQL operation of the store failed. The message says which operation and why, in
/// words an operator can act on (postgres-nio hides its details behind a generic description).
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, IndeterminateStoreFailure {
    public struct Code: Hashable, Sendable {
        let name: String
        /// PostgreSQL did not answer (down, restarting, unreachable) or the connection broke.
        public static let unavailable = Code(name: "unavailable")
        /// The operation did not finish within the configured timeout.
        public static let timedOut = Code(name: "timed_out")
        /// The configuration (URL, password file, pool size) is unusable.
        public static let configuration = Code(name: "configuration")
        /// The database holds something the store did not expect.
        public static let corrupt = Code(name: "corrupt")
    }

    public var code: Code
    public var message: String
    /// The operation had its connection and was running when it failed without an answer from
    /// the server (timed out, connection lost): a commit may have happened.
    public var mayHaveStored = false
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Wraps whatever a PostgreSQL call threw, naming the operation. A transaction's error is
    /// reported by its cause (postgres-nio's own description is a page of nested dumps).
    static func wrap(_ error: any Error, during operation: String) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if let error = error as? PostgresTransactionError,
            let cause = error.commitError ?? error.closureError ?? error.beginError ?? error.rollbackError
        {
            return wrap(cause, during: error.commitError != nil ? "\(operation) (its COMMIT)" : operation)
        }
        if let error = error as? PSQLError {
            var reason = "\(error.code)"
            if let message = error.serverInfo?[.message] { reason += ": \(message)" }
            if let underlying = error.underlying { reason += " (\(underlying))" }
            return PostgresStoreError(.unavailable, "PostgreSQL \(operation) failed: \(reason)")
        }
        return PostgresStoreError(.unavailable, "PostgreSQL \(operation) failed: \(error)")
    }
}

extension PostgresStoreError {
    /// Whether an operation that failed with `error` may still have committed: only when a COMMIT
    /// was sent and no answer from the server came back. A transaction that failed before its
    /// COMMIT (postgres-nio then sends none) or a server's error answer committed nothing.
    static func mayHaveCommitted(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            guard let commit = error.commitError else { return false }
            return (commit as? PSQLError)?.serverInfo == nil
        }
        return (error as? PSQLError)?.serverInfo == nil
    }
}

/// Runs `body`, but gives up after `timeout`: the caller gets ``PostgresStoreError/Code/timedOut``
/// at once. While PostgreSQL is away the pool waits for a connection indefinitely; producers
/// must hear 503 instead.
///
/// A body still waiting for its connection is cancelled, so it never runs later. A body that
/// has started (it called `started(isGone)`) is left to finish or fail by itself: cancelling it
/// halfway through a transaction could hand the connection back with the transaction (and the
/// head counter's lock) still open; the server's `statement_timeout` bounds how long it can take.
///
/// While a started body runs, `isGone` (its connection was closed) is checked every 50 ms: a
/// connection the server closed under a running query (`pg_ctl restart -m fast`, a failover)
/// was seen to leave that query waiting for ever in postgres-nio, and the caller would have
/// waited out the whole timeout. It gets ``PostgresStoreError/Code/unavailable`` at once instead
/// (with ``PostgresStoreError/mayHaveStored``: a commit may have reached the server).
///
/// Unstructured on purpose: a task group would wait for a body that ignores cancellation (a
/// query on a half-dead socket), and the relay's one publish drainer would wait with it.
func withTimeout<T: Sendable>(
    _ timeout: Duration, operation: String,
    _ body: @escaping @Sendable (_ started: @escaping @Sendable (_ isGone: @escaping @Sendable () -> Bool) -> Void) async throws -> T
) async throws -> T {
    let race = TimeoutRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, body: body, timeout: timeout, operation: operation)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The state of one ``withTimeout(_:operation:_:)``: whichever of the body, the timer or a
/// cancellation finishes first resumes the caller; the others find nothing left to resume.
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
        var started = false
        var isGone: (@Sendable () -> Bool)?
    }

    private let state = Mutex(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>,
        body: @escaping @Sendable (_ started: @escaping @Sendable (_ isGone: @escaping @Sendable () -> Bool) -> Void) async throws -> T,
        timeout: Duration, operation: String
    ) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        if let early { return continuation.resume(with: early) }
        let work = Task {
            do {
                finish(.success(try await body { isGone in
                    self.state.withLock { state in
                        state.started = true
                        state.isGone = isGone
                    }
                }))
            } catch {
                var wrapped = PostgresStoreError.wrap(error, during: operation)
                wrapped.mayHaveStored = PostgresStoreError.mayHaveCommitted(error) && self.state.withLock { $0.started }
                finish(.failure(wrapped))
            }
        }
        let timer = Task {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard (try? await Task.sleep(for: min(.milliseconds(50), deadline - .now))) != nil else { return }
                if let isGone = self.state.withLock({ $0.isGone }), isGone() {
                    var error = PostgresStoreError(
                        .unavailable,
                        "PostgreSQL \(operation) lost its connection while it ran (PostgreSQL restarted or failed over, or the network dropped it)"
                    )
                    error.mayHaveStored = true
                    return finish(.failure(error))
                }
            }
            let started = self.state.withLock { $0.started }
            var error = PostgresStoreError(
                .timedOut,
                "PostgreSQL \(operation) did not finish within \(timeout)" + (started ? " (it was running: it may still finish)" : " (no connection to PostgreSQL became free)")
            )
            error.mayHaveStored = started
            finish(.failure(error))
        }
        let finished = state.withLock { state in
            state.tasks = [work, timer]
            return state.outcome != nil
        }
        if finished {
            timer.cancel()
            if !state.withLock({ $0.started }) { work.cancel() }
        }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer { state.continuation = nil }
            // The timer always; the body only while it still waits for its connection.
            return (state.continuation, state.started ? Array(state.tasks.suffix(1)) : state.tasks)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(with: outcome)
    }
}
