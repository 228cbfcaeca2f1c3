/// Sequence numbers as a client may name them: a resume position, an ack, a poll's `after`.
///
/// Stores keep sequences as signed 64-bit integers (SQLite, PostgreSQL), so no log reaches 2^63.
/// Every number a client sends is parsed here, at the edge, into `0...max`; past the edge, the
/// core's position arithmetic (`seq + 1`, `seq - first`) can never meet a value it overflows on.
public enum ClientSequence {
    /// The largest sequence number a client may name: 2^63 − 1.
    public static let max = UInt64(Int64.max)

    /// What a refusal says the number must be.
    public static let rule = "a whole number from 0 to \(max)"

    /// Decimal digits only (no sign, fraction or exponent), at most ``max``.
    public static func parse<Text: StringProtocol>(_ text: Text) -> UInt64? {
        parse(digits: text.utf8)
    }

    /// ``parse(_:)`` over the UTF-8 bytes of a frame, without making a `String` of them: every
    /// ack a subscriber sends is parsed here (inlinable, so the transport's call is specialized
    /// for its byte slice, not run through the generic `Collection` witnesses).
    @inlinable
    public static func parse<Bytes: Collection<UInt8>>(digits bytes: Bytes) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 19 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            // 19 digits fit a UInt64 (at most 9,999,999,999,999,999,999 < 2^64): no overflow.
            value = value &* 10 &+ UInt64(byte &- UInt8(ascii: "0"))
        }
        return value <= max ? value : nil
    }

    /// A JSON number (or numeric text) from a client: digits as ``parse(_:)``, or a float with no
    /// fraction up to 2^53, the largest whole number a JavaScript client can hold exactly
    /// (browsers keep `last_sequence` as a double, and some store it as text such as `"12"` or
    /// `1e3`).
    public static func parse(json text: String) -> UInt64? {
        if let value = parse(text) { return value }
        guard text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") || $0 == UInt8(ascii: "+") }),
            let value = Double(text), value.isFinite, value >= 0, value <= 9_007_199_254_740_992, value.rounded() == value
        else { return nil }
        return UInt64(value)
    }
}
