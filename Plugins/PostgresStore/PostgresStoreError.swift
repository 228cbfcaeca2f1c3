import PostgresNIO

/// A PostgreSQL operation of the store failed. The message says which operation and why, in
/// words an operator can act on (postgres-nio hides its details behind a generic description).
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
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
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Wraps whatever a PostgreSQL call threw, naming the operation.
    static func wrap(_ error: any Error, during operation: String) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if let error = error as? PSQLError {
            var reason = "\(error.code)"
            if let message = error.serverInfo?[.message] { reason += ": \(message)" }
            if let underlying = error.underlying { reason += " (\(underlying))" }
            return PostgresStoreError(.unavailable, "PostgreSQL \(operation) failed: \(reason)")
        }
        return PostgresStoreError(.unavailable, "PostgreSQL \(operation) failed: \(error)")
    }
}

/// Runs `body`, but gives up after `timeout`: the body is cancelled (a waiting connection lease
/// is cancelled with it) and ``PostgresStoreError/Code/timedOut`` is thrown. While PostgreSQL is
/// away the pool waits for a connection indefinitely; producers must hear 503 instead.
func withTimeout<T: Sendable>(
    _ timeout: Duration, operation: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw PostgresStoreError(.timedOut, "PostgreSQL \(operation) did not finish within \(timeout)")
        }
        defer { group.cancelAll() }
        do {
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        } catch {
            throw PostgresStoreError.wrap(error, during: operation)
        }
    }
}
