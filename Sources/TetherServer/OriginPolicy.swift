import Hummingbird
public import TetherCore
import TetherRouting

/// Which web pages may use the relay from a browser.
///
/// Browsers send `Origin` on WebSocket upgrades, `EventSource` and Socket.IO requests, and on
/// cross-site `POST`s; other clients usually send none. A request without `Origin` is not from
/// a page and passes (tokens guard it); so does one whose `Origin` has a `ws:`/`wss:` scheme,
/// which no browser sends (a page's origin is `http:` or `https:`) but some WebSocket client
/// libraries do (Hummingbird's, and so `TetherClient`). A request whose `Origin` is the relay's own (the
/// dashboard) passes. Any other origin must be listed in `allowed-origins` (or the list is `*`);
/// otherwise the request is refused with 403 `origin_not_allowed` before any route runs, so a
/// page on another site cannot read the stream or publish through a visitor's browser.
public struct OriginPolicy: Sendable, Equatable {
    /// Normalised `scheme://host[:port]` origins allowed besides the relay's own.
    public private(set) var allowed: Set<String> = []
    /// `*`: any origin (the seed's behaviour; only for relays whose every scope needs a token).
    public private(set) var allowsAny = false

    public init() {}

    /// - Parameter origins: `scheme://host[:port]` entries, or `*`.
    /// - Throws: ``ConfigurationError`` for an entry that is not an origin (a path, no scheme).
    public init(_ origins: [String]) throws(ConfigurationError) {
        for entry in origins {
            if entry == "*" {
                allowsAny = true
                continue
            }
            guard let origin = Self.normalised(entry) else {
                throw ConfigurationError("allowed-origins entry \"\(entry)\" is not an origin; write scheme://host[:port] (e.g. https://dash.example.com), without a path, or *")
            }
            allowed.insert(origin)
        }
    }

    /// What the relay does with a request that carries an `Origin`.
    public enum Decision: Sendable, Equatable {
        /// The relay's own page, or a non-browser client: served, no CORS headers needed.
        case sameOrigin
        /// Another site's page that `allowed-origins` lets in: served with CORS headers.
        case allowedCrossOrigin
        /// Another site's page: 403 `origin_not_allowed`.
        case refused
    }

    /// The decision for a request carrying `origin`, addressed to `host` (its `Host` header).
    public func decide(origin: String, host: String?) -> Decision {
        if Self.isNonBrowser(origin) { return .sameOrigin }
        let normalised = Self.normalised(origin)
        if let normalised, let host,
            Self.authority(of: normalised) == Self.normalisedAuthority(host, scheme: Self.scheme(of: normalised)) {
            return .sameOrigin
        }
        if allowsAny { return .allowedCrossOrigin }
        if let normalised, allowed.contains(normalised) { return .allowedCrossOrigin }
        return .refused
    }

    /// Whether `origin` has a WebSocket scheme, which only non-browser clients send.
    static func isNonBrowser(_ origin: String) -> Bool {
        let lower = origin.lowercased()
        return lower.hasPrefix("ws://") || lower.hasPrefix("wss://")
    }

    /// `scheme://host[:port]`, lower-cased, default port dropped; `nil` for `null` or anything
    /// with a path, query or user part.
    static func normalised(_ text: String) -> String? {
        let lower = text.lowercased()
        guard let range = lower.range(of: "://") else { return nil }
        let scheme = String(lower[..<range.lowerBound])
        guard ["http", "https"].contains(scheme) else { return nil }
        var rest = String(lower[range.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty, !rest.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        return scheme + "://" + normalisedAuthority(rest, scheme: scheme)
    }

    private static func scheme(of origin: String) -> String {
        origin.hasPrefix("https://") ? "https" : "http"
    }

    private static func authority(of origin: String) -> String {
        String(origin[origin.range(of: "://")!.upperBound...])
    }

    private static func normalisedAuthority(_ authority: String, scheme: String) -> String {
        let lower = authority.lowercased()
        let defaultPort = scheme == "https" ? ":443" : ":80"
        return lower.hasSuffix(defaultPort) ? String(lower.dropLast(defaultPort.count)) : lower
    }
}

/// Applies the ``OriginPolicy`` to every request, first of all middleware: refuses other sites'
/// pages with 403 `origin_not_allowed` (counted, logged once a minute per address), answers
/// CORS preflights for allowed origins, and adds `Access-Control-Allow-Origin` for them.
///
/// WebSocket upgrades from a refused origin are answered with the 400 Hummingbird gives every
/// refused upgrade (browsers never show a failed upgrade's status to the page); the refusal is
/// counted and logged the same way.
struct OriginMiddleware: RouterMiddleware {
    typealias Context = TetherRequestContext
    let policy: OriginPolicy
    let relay: Relay

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        switch policy.decide(origin: origin, host: request.head.authority) {
        case .sameOrigin:
            return try await next(request, context)
        case .refused:
            let error = RelayError(
                .originNotAllowed,
                "pages from \(origin) may not use this relay; add the origin to allowed-origins (--allowed-origins \(origin)) if they should"
            )
            relay.gate.noteRefusal(error, client: context.remoteHost)
            return JSONErrorMiddleware<Context>.response(for: error)
        case .allowedCrossOrigin:
            break
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            Self.addCORS(to: &headers, origin: origin)
            headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Last-Event-ID"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        Self.addCORS(to: &response.headers, origin: origin)
        return response
    }

    private static func addCORS(to headers: inout HTTPFields, origin: String) {
        headers[.accessControlAllowOrigin] = origin
        headers[.vary] = "Origin"
    }
}
