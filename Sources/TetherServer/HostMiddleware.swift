import HTTPTypes
import Hummingbird
import TetherCore
import TetherRouting

extension RelayError.Code {
    /// The request's `Host` names the relay by a name it does not answer to (DNS rebinding, or a
    /// name missing from `allowed-hosts`): HTTP 421.
    static let hostNotAllowed = RelayError.Code(rawValue: "host_not_allowed")
}

/// Applies the ``HostPolicy`` to every request and WebSocket upgrade, first of all middleware
/// (before the origin check, which trusts `Host` to say what the relay's own origin is):
/// 421 `host_not_allowed` for a name the relay does not answer to, 400 `malformed` for a missing
/// or malformed `Host`. Both are counted and logged once a minute per address, like origin
/// refusals; a refused WebSocket upgrade is answered with Hummingbird's empty 400.
struct HostMiddleware: RouterMiddleware {
    typealias Context = TetherRequestContext
    let policy: HostPolicy
    let relay: Relay

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A second Host header is kept among the fields (the first becomes the authority).
        let header = request.headers[.hostField] == nil ? request.head.authority : nil
        let error: RelayError
        switch policy.decide(header) {
        case .allowed:
            return try await next(request, context)
        case .missing where request.headers[.hostField] != nil:
            error = RelayError(.malformed, "the request has more than one Host header; send exactly one")
        case .missing:
            error = RelayError(.malformed, "the request has no Host header; HTTP/1.1 requires one (send the name or address the relay was reached at)")
        case .malformed:
            error = RelayError(.malformed, "the Host header is not host[:port] (a name, an IPv4 address, or an IPv6 address in brackets)")
        case .refused(let name):
            error = RelayError(
                .hostNotAllowed,
                "this relay does not answer to the name \(name) (Host header); if clients reach it by that name, add it to allowed-hosts (--allowed-hosts \(name))"
            )
        }
        relay.gate.noteRefusal(error, client: context.remoteHost)
        return JSONErrorMiddleware<Context>.response(for: error)
    }
}

extension HTTPField.Name {
    /// `Host`, when it appears among the fields: only a second one does (HTTPTypes moves the
    /// first into the request's authority).
    static let hostField = HTTPField.Name("Host")!
}
