import DequeModule
import Synchronization
import TetherCore

/// The move of a polling session to WebSocket (Engine.IO's upgrade): probe, then `upgrade`.
extension EngineSocket {
    /// Whether a WebSocket may take this session over (it is polling and no upgrade is under way).
    var canUpgrade: Bool { state.withLock { $0.closed == nil && $0.transport == .polling && !$0.probing } }

    /// A probe arrived over WebSocket: pending and later polls get `noop` until the upgrade ends.
    func beginUpgrade() -> Bool {
        let began = state.withLock { state -> Bool in
            guard state.closed == nil, state.transport == .polling, !state.probing else { return false }
            state.probing = true
            return true
        }
        if began { wakeReaders() }
        return began
    }

    /// The client sent `upgrade`: from now on only the WebSocket carries this session.
    func completeUpgrade() {
        state.withLock { state in
            state.probing = false
            state.transport = .websocket
        }
        wakeReaders()
    }

    /// The probing WebSocket went away before `upgrade`: polling goes on.
    func abortUpgrade() {
        state.withLock { $0.probing = false }
    }
}
