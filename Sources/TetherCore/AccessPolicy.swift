/// Who may publish and who may subscribe: bearer tokens per scope, kept only as SHA-256 digests
/// and compared in constant time. A scope with no tokens is open (the loopback default); the
/// server refuses to listen beyond loopback with an open scope unless told `--insecure`.
public struct AccessPolicy: Sendable, Hashable {
    public enum Scope: String, Sendable, Hashable, CaseIterable {
        /// Publishing events.
        case produce
        /// Subscribing, reading history and per-client stats.
        case subscribe
    }

    private var digests: [Scope: [ResumeSecret]]

    /// - Parameters: tokens per scope; empty means the scope is open.
    public init(producerTokens: [String] = [], subscriberTokens: [String] = []) {
        digests = [
            .produce: producerTokens.filter { !$0.isEmpty }.map(ResumeSecret.init(token:)),
            .subscribe: subscriberTokens.filter { !$0.isEmpty }.map(ResumeSecret.init(token:)),
        ]
    }

    /// Whether anyone may act in `scope` without a token.
    public func isOpen(_ scope: Scope) -> Bool {
        digests[scope, default: []].isEmpty
    }

    /// Checks `token` for `scope`.
    /// - Throws: ``RelayError/Code/unauthorized`` when a token is required and none was given,
    ///   ``RelayError/Code/forbidden`` when the token is not one of the scope's.
    public func check(_ token: String?, for scope: Scope) throws(RelayError) {
        let accepted = digests[scope, default: []]
        guard !accepted.isEmpty else { return }
        guard let token, !token.isEmpty else {
            throw RelayError(.unauthorized, "this relay requires a \(scope.rawValue) token: send Authorization: Bearer <token> (or the transport's token field)")
        }
        // Check every digest, so the time taken does not say which (if any) matched.
        var matched = false
        for digest in accepted where digest.matches(token) { matched = true }
        guard matched else {
            throw RelayError(.forbidden, "the token is not valid for \(scope.rawValue)")
        }
    }
}
