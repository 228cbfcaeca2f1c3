import Hummingbird
import TetherCore
import TetherRouting

/// The relay's rule for who may open a Socket.IO session (docs/SECURITY.md, "Admission"):
///
/// - no subscriber tokens configured: every session is authenticated at once and takes a slot
///   in the main pool (`limits.max-connections`) at its handshake;
/// - a token on the handshake request (`Authorization: Bearer`, or `?token=`): checked there; a
///   valid one takes a main-pool slot, a wrong one is refused (401/403) before a session exists;
/// - no token on the handshake: the session waits in the small pending pool
///   (`limits.max-pending-connections`) until its CONNECT brings a valid `auth.token`, which
///   moves it to the main pool; it is closed at `limits.pending-timeout` otherwise.
///
/// So clients without a valid token can fill the pending pool at most, never the slots of
/// clients with one. Every refusal is counted and logged (once a minute per client).
enum HandshakeAdmission {
    static func engineAdmission(_ relay: Relay) -> EngineAdmission {
        EngineAdmission(
            admit: { request, address throws(RelayError) in
                do throws(RelayError) {
                    return try admit(request.bearerToken, address: address, relay: relay)
                } catch {
                    relay.noteRefusal(error, client: address)
                    throw error
                }
            },
            refusalMessages: { error in
                [SocketIOPacket.connectError(error.message, data: TetherNamespace.errorData(error), namespace: "/").encodeHeaderAndPayload()]
            }
        )
    }

    static func admit(_ token: String?, address: String, relay: Relay) throws(RelayError) -> ConnectionTicket {
        let access = relay.configuration.access
        if access.isOpen(.subscribe) { return try relay.connections.admit(address) }
        guard let token else { return try relay.connections.admit(address, pool: .pending) }
        try access.check(token, for: .subscribe)
        return try relay.connections.admit(address)
    }
}
