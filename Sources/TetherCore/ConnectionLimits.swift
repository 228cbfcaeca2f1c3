import Synchronization

/// Counts open subscriber connections, in total and per remote address, and refuses new ones past
/// ``AdmissionLimits/maxConnections`` or ``AdmissionLimits/maxConnectionsPerAddress``.
///
/// Ownership: the counts are behind one `Mutex`; a ``ConnectionTicket`` gives its slot back
/// exactly once (explicitly, or when it is released from memory).
public final class ConnectionLimits: Sendable {
    public let maxTotal: Int
    public let maxPerAddress: Int

    private struct Counts {
        var total = 0
        var perAddress: [String: Int] = [:]
    }
    private let counts = Mutex(Counts())

    public init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Connections open now, in total and from `address`.
    public func open(from address: String? = nil) -> Int {
        counts.withLock { counts in address.map { counts.perAddress[$0] ?? 0 } ?? counts.total }
    }

    /// Throws the refusal a new connection from `address` would get now, without taking a slot
    /// (for a check before a WebSocket upgrade).
    public func check(_ address: String) throws(RelayError) {
        let refusal = counts.withLock { limitError(for: address, $0) }
        if let refusal { throw refusal }
    }

    /// Takes a slot for a connection from `address`.
    ///
    /// - Throws: ``RelayError/Code/serverBusy`` past the total limit,
    ///   ``RelayError/Code/tooManyConnections`` past the per-address limit.
    public func admit(_ address: String) throws(RelayError) -> ConnectionTicket {
        let refusal = counts.withLock { counts -> RelayError? in
            if let refusal = limitError(for: address, counts) { return refusal }
            counts.total += 1
            counts.perAddress[address, default: 0] += 1
            return nil
        }
        if let refusal { throw refusal }
        return ConnectionTicket(limits: self, address: address)
    }

    fileprivate func release(_ address: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = (counts.perAddress[address] ?? 1) - 1
            counts.perAddress[address] = left > 0 ? left : nil
        }
    }

    private func limitError(for address: String, _ counts: Counts) -> RelayError? {
        if maxTotal > 0, counts.total >= maxTotal {
            return RelayError(.serverBusy, "the relay has \(counts.total) subscriber connections open, its limit (limits.max-connections); retry later")
        }
        if maxPerAddress > 0, (counts.perAddress[address] ?? 0) >= maxPerAddress {
            return RelayError(.tooManyConnections, "\(address) has \(maxPerAddress) subscriber connections open, the per-address limit (limits.max-connections-per-address); close one first")
        }
        return nil
    }
}

/// One admitted connection's slot; ``release()`` gives it back (idempotent, and automatic on deinit).
public final class ConnectionTicket: Sendable {
    private let limits: ConnectionLimits
    private let address: String
    private let released = Atomic<Bool>(false)

    fileprivate init(limits: ConnectionLimits, address: String) {
        self.limits = limits
        self.address = address
    }

    public func release() {
        if !released.exchange(true, ordering: .relaxed) { limits.release(address) }
    }

    deinit { release() }
}
