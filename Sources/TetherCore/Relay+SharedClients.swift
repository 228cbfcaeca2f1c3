/// Client records over a shared log: a client may resume on any relay, so the store, not this
/// relay's memory, is the authority on a client that is not connected here.
///
/// - Identity: a hello naming a client this relay holds no attached session of is looked up in
///   the store first; a new id is bound in the store with a compare-and-set before it is
///   welcomed (``ClientRecordStore/bindClient(_:)``). While the store cannot be reached, an id
///   this relay has never seen is refused with the retryable ``RelayError/Code/identityUnavailable``:
///   binding it locally would let anyone take it over.
/// - Position: a new client's record is written at connect with its starting position, and
///   attached clients' acknowledged positions are written every ``LogFollower/positionSave``.
/// - Supersede: each attach claims the id in the store; a relay holding an older claim's
///   connection closes it with `superseded` when it hears of the newer claim.
extension Relay {
    /// Before a hello is checked: when the store is shared and keeps client records, and the
    /// named client is not attached to this relay, (re)load its record from the store, so that a
    /// client bound or moved on another relay resumes here with its secret and newest cursor.
    ///
    /// A store that is not shared had every record loaded at start, so a miss there is final and
    /// costs no lookup.
    ///
    /// - Throws: ``RelayError/Code/identityUnavailable`` when the lookup failed and this relay
    ///   holds no record of the id (one it holds is judged on what is in memory: its secret was
    ///   bound in the store, and a bound secret never changes).
    func refreshSharedClient(_ id: String?, transport: String, remote: String) async throws(RelayError) {
        guard let id, sharedLog != nil, let durable = clientRecords else { return }
        let (attached, known) = clients.presence(of: id)
        guard !attached else { return }
        let saved: PersistedClient?
        do {
            saved = try await durable.loadClient(id)
        } catch {
            guard known else {
                let refusal = RelayError.identityUnavailable(id, error)
                logger.warning(
                    "refused client \(id) over \(transport) from \(remote): the shared store is unreachable, so its id cannot be checked; the client retries",
                    metadata: [LogKey.clientID: "\(id)", LogKey.transport: "\(transport)", LogKey.remote: "\(remote)", "error": "\(error)"]
                )
                throw refusal
            }
            logger.warning(
                "could not look up a client record in the shared store; judging the hello on this relay's copy",
                metadata: [LogKey.clientID: "\(id)", "error": "\(error)"]
            )
            return
        }
        guard let saved else { return }
        clients.adopt(saved)
    }

    /// Folds attached sessions' progress into their records and saves every changed record, so a
    /// resume on another relay without `last_sequence` starts close to where the client is.
    public func saveClientPositions() async {
        guard clientRecords != nil else { return }
        await saveClientRecords(changed: clients.takeChanged(), forgotten: [], quiet: true)
    }

    /// Claims the session's client id across relays, so that an older connection of it on
    /// another relay is closed. A failed claim is logged: the connection works, but a connection
    /// of the same id elsewhere is not superseded until this relay reconnects it.
    func claimAcrossRelays(_ session: Session) async {
        guard let shared = sharedLog else { return }
        do {
            session.generation = try await shared.claimConnection(session.clientID)
        } catch {
            logger.warning(
                "could not claim a client id in the shared store; another relay's connection of it is not superseded",
                metadata: [LogKey.clientID: "\(session.clientID)", LogKey.connectionID: "\(session.id)", "error": "\(error)"]
            )
        }
    }

    /// Another relay (or this one) attached a connection of `claim.clientID`: a connection of it
    /// attached here under an older claim is closed with `superseded`.
    public func supersede(_ claim: ConnectionClaim) {
        guard let victim = clients.session(supersededBy: claim) else { return }
        victim.end(
            RelayError(.superseded, "this client id connected again on another relay; this connection is closed"),
            detachReason: "superseded by a new connection of the same client on another relay"
        )
    }

    /// The sweep's check of every attached client's claim, for notifications lost while the
    /// store's connection was down.
    func checkClaims() async {
        guard let shared = sharedLog else { return }
        let attached = clients.claimedClientIDs()
        guard !attached.isEmpty else { return }
        guard let newest = try? await shared.connectionGenerations(attached) else { return }
        for (id, generation) in newest { supersede(ConnectionClaim(clientID: id, generation: generation)) }
    }
}
