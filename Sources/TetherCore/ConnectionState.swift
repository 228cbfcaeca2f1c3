/// Where a connection is in its life. The relay side moves through `connecting → connected →
/// (stale) → disconnected`, and a returning client through `reconnecting → connected`; `failed`
/// is the client side's end after its last reconnect attempt.
///
/// ``canMove(to:)`` is the whole state machine: a transition it refuses is a bug in the caller.
public enum ConnectionState: String, Sendable, Hashable, Codable, CaseIterable {
    case connecting
    case connected
    case stale
    case disconnected
    case reconnecting
    case failed

    /// Whether `next` may follow this state.
    public func canMove(to next: ConnectionState) -> Bool {
        switch (self, next) {
        case (.connecting, .connected), (.connecting, .disconnected), (.connecting, .failed):
            true
        case (.connected, .stale), (.connected, .disconnected):
            true
        case (.stale, .connected), (.stale, .disconnected):
            true
        case (.disconnected, .reconnecting), (.disconnected, .connecting):
            true
        case (.reconnecting, .connected), (.reconnecting, .disconnected), (.reconnecting, .failed):
            true
        case (.failed, .connecting), (.failed, .reconnecting):
            true
        default:
            false
        }
    }

    /// Whether a connection in this state is attached to a live transport session.
    public var isAttached: Bool {
        self == .connected || self == .stale || self == .connecting || self == .reconnecting
    }
}
