import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TetherCore

/// Every connection a server accepted that has not closed yet, so graceful shutdown can ask each
/// to quiesce and then wait until the last one has closed.
///
/// The server's own task group cannot be what it waits for: a WebSocket connection driven from
/// its event loop (`WebSocketTakeover`) has no task once its upgrade is done, and its close
/// handshake (close 1000, then the client's answer or the handler's one-second deadline) happens
/// after the server stopped accepting. Without this wait the process went on to exit with those
/// handshakes half done, and clients saw the socket close with no close frame (issue 16, CI of
/// stop 25).
///
/// Ownership: the table is behind its lock; channels are added on their event loop when they are
/// set up and leave when their close future completes, from any thread.
final class OpenConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Holds `channel` until it closes.
    func track(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        state.withLock { $0.channels[key] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.channels[key] = nil
                guard state.channels.isEmpty else { return [] }
                defer { state.waiters.removeAll() }
                return Array(state.waiters.values)
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// How many connections are open.
    var count: Int { state.withLock { $0.channels.count } }

    /// Asks every open connection to finish (`ChannelShouldQuiesceEvent`): an HTTP connection
    /// closes after its current response, a WebSocket connection sends close 1000.
    func quiesceAll() {
        for channel in state.withLock({ Array($0.channels.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Returns once no connection is open, or when the task is cancelled (the service group's
    /// grace period ran out: what is still open then closes with the process).
    func allClosed() async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard !state.channels.isEmpty, !Task.isCancelled else { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// The HTTP server as the service group runs it: after the server's own graceful shutdown
/// returns (it stopped accepting, and every connection was asked to quiesce), waits until the
/// last connection has closed, so the relay behind them and the process outlive every close
/// handshake. Bounded by the group's grace period, which cancels the wait.
struct ServerUntilConnectionsClose: Service {
    let server: any Service
    let connections: OpenConnections
    let logger: Logger

    func run() async throws {
        try await server.run()
        let open = connections.count
        guard open > 0 else { return }
        logger.info("waiting for \(counted(open, "connection")) to finish closing (WebSocket clients were sent close 1000)")
        await connections.allClosed()
    }
}
