/// An error the relay reports to a producer or subscriber, with a stable machine-readable `code`
/// (part of the wire and HTTP contract) and a message a person can act on.
///
/// Codes are static members rather than enum cases so that new ones do not break callers.
public struct RelayError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let malformed = Code(rawValue: "malformed")
        public static let invalidEvent = Code(rawValue: "invalid_event")
        public static let tooLarge = Code(rawValue: "too_large")
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        public static let futureSequence = Code(rawValue: "future_sequence")
        public static let ackBeyondDelivered = Code(rawValue: "ack_beyond_delivered")
        public static let resumeRefused = Code(rawValue: "resume_refused")
        public static let superseded = Code(rawValue: "superseded")
        public static let storeUnavailable = Code(rawValue: "store_unavailable")
        /// A hello named a client id this relay has not seen while the shared store that holds
        /// client records cannot be reached: the id cannot be checked against its secret, so it is
        /// neither welcomed nor bound. Retryable (WebSocket close 4003, HTTP 503).
        public static let identityUnavailable = Code(rawValue: "identity_unavailable")
        public static let closed = Code(rawValue: "closed")
        public static let shuttingDown = Code(rawValue: "shutting_down")
        public static let notFound = Code(rawValue: "not_found")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let forbidden = Code(rawValue: "forbidden")
        /// A browser page from an origin not in `allowed-origins` (HTTP 403).
        public static let originNotAllowed = Code(rawValue: "origin_not_allowed")
        /// A new connection did not finish its TLS handshake and first request head in time
        /// (`limits.handshake-timeout`); it is closed without an answer.
        public static let handshakeTimeout = Code(rawValue: "handshake_timeout")
        /// A new connection failed before its first request: a TLS handshake error (plain HTTP
        /// to the TLS port, a client that does not trust the certificate).
        public static let handshakeFailed = Code(rawValue: "handshake_failed")
        /// Past a limit of ``AdmissionLimits``: publish rate (HTTP 429 with `Retry-After`),
        /// connections per address (429), connections in total (503), topics per client (400).
        public static let rateLimited = Code(rawValue: "rate_limited")
        public static let tooManyConnections = Code(rawValue: "too_many_connections")
        public static let serverBusy = Code(rawValue: "server_busy")
        public static let tooManyTopics = Code(rawValue: "too_many_topics")
        /// A client id, resume token or subscribed topic breaks the ``NameRule``.
        public static let invalidName = Code(rawValue: "invalid_name")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func futureSequence(_ last: UInt64, head: UInt64) -> RelayError {
        RelayError(
            .futureSequence,
            "last_sequence \(last) is ahead of this log's head \(head); resume with a sequence this relay assigned, or omit it"
        )
    }

    public static func storeUnavailable(_ underlying: any Error) -> RelayError {
        if (underlying as? any IndeterminateStoreFailure)?.mayHaveStored == true {
            return RelayError(
                .storeUnavailable,
                "the buffer store did not confirm the write (\(underlying)); it may have been stored: retry with the same producer id, which never duplicates an event"
            )
        }
        return RelayError(.storeUnavailable, "the buffer store refused the write (\(underlying)); nothing from this request was stored, retry later")
    }

    public static func identityUnavailable(_ id: String, _ underlying: any Error) -> RelayError {
        RelayError(
            .identityUnavailable,
            "client id \(id) cannot be checked right now: the shared store that holds client records is unreachable (\(underlying)); reconnect with backoff"
        )
    }
}

/// A store error after which the store cannot tell whether a write happened: a commit that was
/// sent but not confirmed (PostgreSQL's answer lost or timed out). The relay then says "may have
/// been stored" to producers and in the journal instead of "nothing was stored".
public protocol IndeterminateStoreFailure: Error {
    var mayHaveStored: Bool { get }
}
