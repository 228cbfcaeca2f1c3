#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address written as text, parsed by the C library's `inet_pton` (strict: four
/// decimal octets for IPv4, no `127.1` shorthand, no leading zeros; the RFC 4291 forms for IPv6).
/// Anything else, `127.attacker.invalid` included, is a name, not an address.
///
/// Used wherever "is this loopback?" decides something (the listen address, the `Host` header),
/// so the answer comes from the address, never from how its text begins.
struct IPAddressLiteral: Sendable, Hashable {
    enum Family: Sendable, Hashable {
        case v4
        case v6
    }

    let family: Family
    /// Network byte order: 4 bytes for IPv4, 16 for IPv6.
    let bytes: [UInt8]

    /// Parses `text`: an IPv4 dotted quad, or an IPv6 address with or without `[` `]`. A zone
    /// (`fe80::1%eth0`) is not accepted: a `Host` header never carries one.
    init?(_ text: some StringProtocol) {
        var text = String(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if text.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
            family = .v6
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            family = .v4
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        }
    }

    /// 127.0.0.0/8, `::1`, or an IPv4-mapped IPv6 address (`::ffff:127.x.x.x`) in 127.0.0.0/8.
    var isLoopback: Bool {
        switch family {
        case .v4:
            return bytes[0] == 127
        case .v6:
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            return mapped && bytes[12] == 127
        }
    }

    /// `0.0.0.0` or `::`: every address of the machine.
    var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
}
