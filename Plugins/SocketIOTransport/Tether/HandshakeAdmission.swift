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
///
/// The rule itself is the core's (``AdmissionGate/admitSession(token:address:)`` at the
/// handshake, ``AdmissionGate/authenticate(_:ticket:)`` at CONNECT); this adapts it to Engine.IO.
enum HandshakeAdmission {
    static func engineAdmission(_ relay: Relay) -> EngineAdmission {
        EngineAdmission(
            admit: { request, address throws(RelayError) in
                try relay.gate.admitSession(token: request.bearerToken, address: address)
            },
            refusalMessages: { error in
                [SocketIOPacket.connectError(error.message, data: TetherNamespace.errorData(error), namespace: "/").encodeHeaderAndPayload()]
            }
        )
    }
}
