public import TetherCore

/// Which names a request's `Host` header may carry: the defence against DNS rebinding, where a
/// page on `rebind.attacker.example` has its name re-pointed at the relay's address and then
/// talks to the relay as its own origin (so the ``OriginPolicy`` sees a same-origin request).
///
/// Allowed, whatever the port in the header:
/// - the loopback names: `localhost`, any 127.0.0.0/8 address, `[::1]` (and IPv4-mapped
///   `[::ffff:127.x.x.x]`);
/// - the listen address (`listen`): its name, or its address;
/// - when the relay listens on every address (`0.0.0.0` or `::`), any IP-address literal but the
///   unspecified ones (`0.0.0.0` and `[::]` reach loopback services from a browser): the client
///   addressed the relay by number, which no DNS answer can re-point;
/// - each entry of `allowed-hosts` (names or addresses), or anything when it is `*`.
///
/// Names are compared without case and without one trailing dot (`LOCALHOST.` is `localhost`);
/// addresses by value (`[0:0:0:0:0:0:0:1]` is `[::1]`). Everything else gets 421
/// `host_not_allowed`; a request without `Host`, or with a value that is not `host[:port]`,
/// gets 400.
public struct HostPolicy: Sendable, Equatable {
    /// Names from `allowed-hosts`, lower-cased, without a trailing dot.
    public private(set) var allowedNames: Set<String> = []
    /// Addresses from `allowed-hosts`.
    private(set) var allowedAddresses: Set<IPAddressLiteral> = []
    /// `*`: any Host (behind a proxy that checks it, or when every scope needs a token).
    public private(set) var allowsAny = false
    /// The listen address, when it is a name.
    private(set) var listenName: String?
    /// The listen address, when it is an address other than the wildcard.
    private(set) var listenAddress: IPAddressLiteral?
    /// The relay listens on every address: any address literal is allowed.
    public private(set) var listensEverywhere = false

    /// The loopback-only policy of the default listen address.
    public init() {
        listenAddress = IPAddressLiteral("127.0.0.1")
    }

    /// - Parameters:
    ///   - hosts: `allowed-hosts` entries: host names, IP addresses (IPv6 with or without
    ///     brackets), or `*`. No scheme, no port.
    ///   - listen: the host part of `listen`.
    /// - Throws: ``ConfigurationError`` for an entry that is not a host name or address.
    public init(_ hosts: [String], listen: String) throws(ConfigurationError) {
        if let address = IPAddressLiteral(listen) {
            if address.isUnspecified { listensEverywhere = true } else { listenAddress = address }
        } else {
            listenName = Self.canonicalName(listen)
        }
        for entry in hosts {
            if entry == "*" {
                allowsAny = true
            } else if let address = IPAddressLiteral(entry) {
                allowedAddresses.insert(address)
            } else if let name = Self.host(entry), name.address == nil, !entry.contains(":") {
                allowedNames.insert(name.name)
            } else {
                throw ConfigurationError(
                    "allowed-hosts entry \"\(entry)\" is not a host name or IP address; write the name alone (e.g. relay.example.com or 192.0.2.10), without scheme or port, or *"
                )
            }
        }
    }

    /// The same policy for a relay listening on `host` instead (a socket systemd passed in,
    /// whose address is not `listen`).
    public func listening(on host: String) -> HostPolicy {
        var policy = self
        policy.listenName = nil
        policy.listenAddress = nil
        policy.listensEverywhere = false
        if let address = IPAddressLiteral(host) {
            if address.isUnspecified { policy.listensEverywhere = true } else { policy.listenAddress = address }
        } else {
            policy.listenName = Self.canonicalName(host)
        }
        return policy
    }

    /// What the relay does with a request whose `Host` header is `host` (`nil`: none).
    public enum Decision: Sendable, Equatable {
        case allowed
        /// No `Host` header: 400 (HTTP/1.1 requires one; browsers always send it).
        case missing
        /// Not `host[:port]` (an unbracketed IPv6 address, a path, characters no name has): 400.
        case malformed
        /// A well-formed name this relay does not answer to: 421 `host_not_allowed`; carries the
        /// name without port, for the message.
        case refused(String)
    }

    public func decide(_ header: String?) -> Decision {
        guard let header else { return .missing }
        guard let host = Self.host(header) else { return .malformed }
        if allowsAny { return .allowed }
        if let address = host.address {
            if allowedAddresses.contains(address) { return .allowed }
            // `0.0.0.0` reaches loopback services on Linux and macOS; no client names a relay so.
            if address.isUnspecified { return .refused(host.name) }
            if address.isLoopback || listensEverywhere || address == listenAddress { return .allowed }
            return .refused(host.name)
        }
        if host.name == "localhost" || host.name == listenName || allowedNames.contains(host.name) { return .allowed }
        return .refused(host.name)
    }

    /// What an operator should know at start: which Host names are answered.
    public var summary: String {
        if allowsAny { return "Host is not checked (allowed-hosts is *)" }
        var parts = ["loopback names"]
        if listensEverywhere {
            parts.append("any IP address (the relay listens on every address)")
        } else if let listenName {
            parts.append(listenName)
        } else if let listenAddress, !listenAddress.isLoopback {
            parts.append("the listen address")
        }
        parts += allowedNames.sorted()
        if !allowedAddresses.isEmpty { parts.append("\(allowedAddresses.count) address(es) from allowed-hosts") }
        return "requests must name the relay in Host as one of: \(parts.joined(separator: ", ")); clients that use another DNS name need --allowed-hosts NAME"
    }

    /// The host of a `Host` value `host[:port]`, lower-cased, without one trailing dot, with the
    /// address when it is one (IPv6 only in brackets). `nil` when the value is not of that form.
    static func host(_ value: String) -> (name: String, address: IPAddressLiteral?)? {
        let lower = value.lowercased()
        let hostPart: Substring
        let port: Substring?
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            hostPart = lower[lower.index(after: lower.startIndex)..<close]
            let rest = lower[lower.index(after: close)...]
            guard rest.isEmpty || rest.first == ":" else { return nil }
            port = rest.isEmpty ? nil : rest.dropFirst()
            guard let address = IPAddressLiteral(hostPart), address.family == .v6 else { return nil }
            guard port.map(isPort) ?? true else { return nil }
            return (String(hostPart), address)
        }
        if let colon = lower.firstIndex(of: ":") {
            hostPart = lower[..<colon]
            port = lower[lower.index(after: colon)...]
        } else {
            hostPart = lower[...]
            port = nil
        }
        guard port.map(isPort) ?? true else { return nil }
        let name = canonicalName(String(hostPart))
        guard !name.isEmpty, name.utf8.count <= 253,
              name.utf8.allSatisfy({ isNameByte($0) }) else { return nil }
        return (name, IPAddressLiteral(name).flatMap { $0.family == .v4 ? $0 : nil })
    }

    /// Lower-cased, one trailing dot removed (the absolute form of the same DNS name).
    static func canonicalName(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    /// A port: up to five digits, at most 65535; empty is allowed (RFC 3986 `port = *DIGIT`).
    private static func isPort(_ text: Substring) -> Bool {
        guard text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return false }
        return text.isEmpty || Int(text)! <= 65_535
    }

    /// Letters, digits, `-`, `.`, `_`: what host names (and IPv4 addresses) are made of.
    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }
}
