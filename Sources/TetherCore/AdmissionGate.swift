public import Logging
public import struct Foundation.Date

/// The one door every transport lets clients through (docs/SECURITY.md, "Admission"): the bearer
/// token of a scope, a connection slot for a subscriber, the publish rate for a producer. Each
/// refusal is a ``RelayError`` whose code says what was refused (``AdmissionRefusal`` adds when to
/// retry), counted in ``RelayCounters/refused`` and logged at most once a minute per address and
/// reason (``RefusalLog``). Transports only turn the outcome into their own wire answer.
///
/// Ownership: no mutable state of its own. The slots are ``ConnectionLimits``', the buckets
/// ``RateLimiter``'s, the last-logged times ``RefusalLog``'s, each behind its own lock.
public struct AdmissionGate: Sendable {
    /// Who may publish and who may subscribe.
    public let access: AccessPolicy
    /// Subscriber connections open, authenticated and pending, in total and per address.
    public let connections: ConnectionLimits
    /// Publish rate per remote address.
    public let publishRate: RateLimiter
    let refusals = RefusalLog()
    let counters: RelayCounters
    let logger: Logger
    let now: @Sendable () -> Date

    init(configuration: RelayConfiguration, counters: RelayCounters, logger: Logger, now: @escaping @Sendable () -> Date) {
        access = configuration.access
        connections = ConnectionLimits(configuration.admission)
        publishRate = RateLimiter(rate: configuration.admission.publishEventsPerSecond, burst: configuration.admission.publishBurst)
        self.counters = counters
        self.logger = logger
        self.now = now
    }

    /// A subscriber connection from `address` (``TetherRequestContext/remoteHost``) presenting
    /// `token`: checks it for the subscribe scope, then takes a slot in the authenticated pool
    /// for the connection's life (release the ticket when it ends).
    ///
    /// - Throws: `unauthorized`/`forbidden` for the token, `too_many_connections`/`server_busy`
    ///   past a limit; counted and logged.
    public func admitSubscriber(token: String?, address: String) throws(RelayError) -> ConnectionTicket {
        try noting(address) { () throws(RelayError) in
            try access.check(token, for: .subscribe)
            return try connections.admit(address)
        }
    }

    /// A subscriber session that may present its token after it opened (a Socket.IO session,
    /// whose CONNECT carries `auth.token`): with the subscribe scope open, or a token now, as
    /// ``admitSubscriber(token:address:)``; without a token, a slot in the small pending pool,
    /// which ``authenticate(_:ticket:address:)`` moves to the main one.
    public func admitSession(token: String?, address: String) throws(RelayError) -> ConnectionTicket {
        if token == nil, !access.isOpen(.subscribe) {
            return try noting(address) { () throws(RelayError) in try connections.admit(address, pool: .pending) }
        }
        return try admitSubscriber(token: token, address: address)
    }

    /// A pending session's token, presented after it opened: on success its slot moves to the
    /// authenticated pool. Refusals are counted and logged only for a session still pending (an
    /// authenticated one is not refused admission, only its request).
    public func authenticate(_ token: String?, ticket: ConnectionTicket?) throws(RelayError) {
        if ticket?.isAuthenticated == true { return }
        try access.check(token, for: .subscribe)
        try ticket?.promote()
    }

    /// A request in `scope` that takes no slot (a history poll, the stats, a HEAD probe).
    ///
    /// - Throws: `unauthorized`/`forbidden`; not counted, as before this gate existed: these
    ///   answer with an HTTP status, which `hb_requests_total` counts.
    public func authorize(_ token: String?, for scope: AccessPolicy.Scope) throws(RelayError) {
        try access.check(token, for: scope)
    }

    /// A publish of `events` events from `address`, whose token was already authorized for the
    /// produce scope (``authorize(_:for:)``, before its body is read): takes them from the
    /// address's publish rate (a batch of 10 takes 10).
    ///
    /// - Throws: ``AdmissionRefusal`` `rate_limited`, with when to retry; counted and logged.
    public func admitPublish(events: Int, address: String) throws(AdmissionRefusal) {
        if let refusal = publishRate.check(events, key: address) {
            noteRefusal(refusal.error, client: address)
            throw AdmissionRefusal(error: refusal.error, retryAfter: refusal.retryAfter)
        }
    }

    /// Counts a refusal under its code and logs it at most once per client and reason per minute.
    public func noteRefusal(_ error: RelayError, client: String) {
        counters.countRefused(error.code)
        if refusals.shouldLog(client: client, reason: error.code.rawValue, now: now()) {
            logger.warning("refused \(error.code) (logged once a minute per client)", metadata: ["client": "\(client)", "message": "\(error.message)"])
        }
    }

    private func noting<T>(_ address: String, _ body: () throws(RelayError) -> T) throws(RelayError) -> T {
        do {
            return try body()
        } catch {
            noteRefusal(error, client: address)
            throw error
        }
    }
}

/// A publish refused by the rate limit: the error to answer with, and the seconds after which
/// the address may publish again (`Retry-After`).
public struct AdmissionRefusal: Error, Sendable {
    public var error: RelayError
    public var retryAfter: Int
}
