import Synchronization

/// Counts open subscriber connections in two pools, each in total and per remote address, and
/// refuses new ones past their limits (``AdmissionLimits``):
///
/// - **authenticated**: connections whose token was checked (or that need none), up to
///   ``AdmissionLimits/maxConnections`` and ``AdmissionLimits/maxConnectionsPerAddress``;
/// - **pending**: connections that will present their token later (a Socket.IO session before
///   its CONNECT), up to ``AdmissionLimits/maxPendingConnections`` and
///   ``AdmissionLimits/maxPendingConnectionsPerAddress``. A pending connection moves to the
///   authenticated pool with ``ConnectionTicket/promote()`` once its token checks out, so
///   connections without a valid token can never take the slots of those with one.
///
/// Ownership: the counts are behind one `Mutex`; a ``ConnectionTicket`` gives its slot back
/// exactly once (explicitly, or when it is released from memory).
public final class ConnectionLimits: Sendable {
    public let maxTotal: Int
    public let maxPerAddress: Int
    public let maxPending: Int
    public let maxPendingPerAddress: Int

    /// The two pools a ticket can hold a slot in.
    public enum Pool: Sendable, Hashable {
        case authenticated, pending
    }

    fileprivate struct Counts {
        var total = 0
        var perAddress: [String: Int] = [:]
        var pending = 0
        var pendingPerAddress: [String: Int] = [:]

        mutating func add(_ pool: Pool, _ address: String, _ delta: Int) {
            switch pool {
            case .authenticated:
                total += delta
                Self.bump(&perAddress, address, delta)
            case .pending:
                pending += delta
                Self.bump(&pendingPerAddress, address, delta)
            }
        }

        private static func bump(_ table: inout [String: Int], _ address: String, _ delta: Int) {
            let value = (table[address] ?? 0) + delta
            table[address] = value > 0 ? value : nil
        }
    }
    private let counts = Mutex(Counts())

    public init(maxTotal: Int, maxPerAddress: Int, maxPending: Int = 64, maxPendingPerAddress: Int = 8) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
        self.maxPending = maxPending
        self.maxPendingPerAddress = maxPendingPerAddress
    }

    /// The limits of `admission`.
    public convenience init(_ admission: AdmissionLimits) {
        self.init(
            maxTotal: admission.maxConnections, maxPerAddress: admission.maxConnectionsPerAddress,
            maxPending: admission.maxPendingConnections, maxPendingPerAddress: admission.maxPendingConnectionsPerAddress
        )
    }

    /// Authenticated connections open now, in total and from `address`.
    public func open(from address: String? = nil) -> Int {
        counts.withLock { counts in address.map { counts.perAddress[$0] ?? 0 } ?? counts.total }
    }

    /// Unauthenticated (pending) connections open now, in total and from `address`.
    public func pending(from address: String? = nil) -> Int {
        counts.withLock { counts in address.map { counts.pendingPerAddress[$0] ?? 0 } ?? counts.pending }
    }

    /// Throws the refusal a new authenticated connection from `address` would get now, without
    /// taking a slot (for a check before a WebSocket upgrade).
    public func check(_ address: String) throws(RelayError) {
        let refusal = counts.withLock { limitError(.authenticated, for: address, $0) }
        if let refusal { throw refusal }
    }

    /// Takes a slot in `pool` for a connection from `address`.
    ///
    /// - Throws: ``RelayError/Code/serverBusy`` past the pool's total limit,
    ///   ``RelayError/Code/tooManyConnections`` past its per-address limit.
    public func admit(_ address: String, pool: Pool = .authenticated) throws(RelayError) -> ConnectionTicket {
        let refusal = counts.withLock { counts -> RelayError? in
            if let refusal = limitError(pool, for: address, counts) { return refusal }
            counts.add(pool, address, 1)
            return nil
        }
        if let refusal { throw refusal }
        return ConnectionTicket(limits: self, address: address, pool: pool)
    }

    /// Moves a slot from the pending pool to the authenticated one, if that has room.
    fileprivate func promote(_ address: String, claim: () -> Bool) throws(RelayError) {
        let refusal = counts.withLock { counts -> RelayError? in
            if let refusal = limitError(.authenticated, for: address, counts) { return refusal }
            guard claim() else { return nil }  // released meanwhile: nothing to move
            counts.add(.pending, address, -1)
            counts.add(.authenticated, address, 1)
            return nil
        }
        if let refusal { throw refusal }
    }

    fileprivate func release(_ pool: Pool, _ address: String) {
        counts.withLock { $0.add(pool, address, -1) }
    }

    private func limitError(_ pool: Pool, for address: String, _ counts: Counts) -> RelayError? {
        switch pool {
        case .authenticated:
            if maxTotal > 0, counts.total >= maxTotal {
                return RelayError(.serverBusy, "the relay has \(counts.total) subscriber connections open, its limit (limits.max-connections); retry later")
            }
            if maxPerAddress > 0, (counts.perAddress[address] ?? 0) >= maxPerAddress {
                return RelayError(.tooManyConnections, "\(address) has \(maxPerAddress) subscriber connections open, the per-address limit (limits.max-connections-per-address); close one first")
            }
        case .pending:
            if maxPending > 0, counts.pending >= maxPending {
                return RelayError(.serverBusy, "the relay has \(counts.pending) connections waiting to authenticate, its limit (limits.max-pending-connections); retry later, or send Authorization: Bearer <token> with the handshake to skip the wait")
            }
            if maxPendingPerAddress > 0, (counts.pendingPerAddress[address] ?? 0) >= maxPendingPerAddress {
                return RelayError(.tooManyConnections, "\(address) has \(maxPendingPerAddress) connections waiting to authenticate, the per-address limit (limits.max-pending-connections-per-address); send Authorization: Bearer <token> with the handshake, or finish connecting the others first")
            }
        }
        return nil
    }
}

/// One admitted connection's slot, in the pending or the authenticated pool. ``release()`` gives
/// it back (idempotent, and automatic on deinit); ``promote()`` moves a pending slot to the
/// authenticated pool.
public final class ConnectionTicket: Sendable {
    private let limits: ConnectionLimits
    /// The remote address whose share the slot counts against.
    public let address: String
    /// 0 pending, 1 authenticated, 2 released; changes only pending → authenticated → released
    /// or to released directly. Promotion moves the counts under the limits' lock together with
    /// this change, so a concurrent release always gives back the pool it finds here.
    private let state: Atomic<UInt8>

    fileprivate init(limits: ConnectionLimits, address: String, pool: ConnectionLimits.Pool) {
        self.limits = limits
        self.address = address
        self.state = Atomic(pool == .pending ? 0 : 1)
    }

    /// Whether this slot is still in the pending pool (not authenticated, not released).
    public var isPending: Bool { state.load(ordering: .acquiring) == 0 }
    /// Whether this slot is in the authenticated pool (admitted there, or promoted; not released).
    public var isAuthenticated: Bool { state.load(ordering: .acquiring) == 1 }

    /// Moves a pending slot to the authenticated pool; does nothing for a slot already there
    /// (or released).
    ///
    /// - Throws: ``RelayError/Code/serverBusy`` or ``RelayError/Code/tooManyConnections`` when
    ///   the authenticated pool is full; the slot then stays pending.
    public func promote() throws(RelayError) {
        guard isPending else { return }
        try limits.promote(address) { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }
    }

    public func release() {
        switch state.exchange(2, ordering: .acquiringAndReleasing) {
        case 0: limits.release(.pending, address)
        case 1: limits.release(.authenticated, address)
        default: break
        }
    }

    deinit { release() }
}
