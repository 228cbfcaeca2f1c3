/// The identity of one log. A store creates a new epoch whenever it starts a log from nothing (the
/// memory store on every start, a durable store over an empty or wiped database).
///
/// Sequence numbers only mean something within their epoch: a client that resumes with a sequence
/// from another epoch is told `reset`, never handed events under numbers it would misread.
public struct Epoch: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// A fresh random epoch: 16 lowercase hex digits (64 bits from the system's CSPRNG).
    public static func random() -> Epoch {
        var generator = SystemRandomNumberGenerator()
        return Epoch(rawValue: hex(generator.next() as UInt64))
    }

    public var description: String { rawValue }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
