public import Hummingbird

extension Request {
    /// The token of an `Authorization: Bearer <token>` header, else of a `token` query parameter
    /// (for clients such as the browser's EventSource that cannot set headers).
    public var bearerToken: String? {
        if let header = headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
        }
        return uri.queryParameters["token"].map(String.init)
    }
}
