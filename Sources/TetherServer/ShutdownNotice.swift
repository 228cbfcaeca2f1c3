import Logging
import ServiceLifecycle

/// Logs, once and at notice level, that graceful shutdown started (SIGTERM or SIGINT) and what
/// happens next, so that the journal says who ended the connections that close after it.
///
/// Runs last in the service group, so it hears of the shutdown first; it ends then without
/// ending the group (its configuration ignores its return).
struct ShutdownNotice: Service {
    let logger: Logger
    /// How long open connections get to finish before they are cancelled.
    let grace: Duration

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is ending for another reason, which it logs
        }
        logger.notice(
            "graceful shutdown started (SIGTERM or SIGINT): the listener closes, open connections are closed by the relay (WebSocket close code 1000, SSE streams end) and get up to \(grace) to finish before they are cancelled, then the relay exits",
            metadata: ["grace": "\(grace)"]
        )
    }
}
