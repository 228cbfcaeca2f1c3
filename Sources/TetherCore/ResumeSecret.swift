import Crypto

/// The secret that binds a client id to the client that first used it.
///
/// The relay hands the token out once, in the first welcome, and keeps only its SHA-256 digest;
/// a resume must present the token, compared in constant time. Tokens are 256 random bits.
public struct ResumeSecret: Sendable, Hashable, Codable {
    /// Hex SHA-256 of the token.
    public let digest: String

    public init(digest: String) {
        self.digest = digest
    }

    public init(token: String) {
        self.digest = Self.hash(token)
    }

    /// A new random token (64 hex digits).
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let digits = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }

    /// Whether `token` is the secret's token, in time independent of where they differ.
    public func matches(_ token: String) -> Bool {
        let candidate = Array(Self.hash(token).utf8)
        let expected = Array(digest.utf8)
        guard candidate.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in candidate.indices { difference |= candidate[index] ^ expected[index] }
        return difference == 0
    }

    private static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
