import Foundation

/// A seeded, reproducible generator of hostile decoder inputs for bounded fuzzing: mutations of
/// valid seed inputs (bit flips, truncation, splices, repeated and deleted spans, invalid UTF-8,
/// deep nesting, huge numbers) plus plain random bytes. The same seed yields the same inputs, so a
/// failure names the seed and the case index and reproduces exactly.
///
/// `FUZZ_CASES` (per decoder) and `FUZZ_SEED` in the environment override the defaults, for
/// `make fuzz`.
public struct HostileInputGenerator: RandomNumberGenerator, Sendable {
    private var random: SplitMix64
    public let seeds: [[UInt8]]

    public init(seed: UInt64, seeds: [String]) {
        self.random = SplitMix64(seed: seed)
        self.seeds = seeds.map { Array($0.utf8) }
    }

    /// SplitMix64: small, fast and good enough to spread mutations.
    public mutating func next() -> UInt64 { random.next() }

    /// Cases per decoder: `FUZZ_CASES` or `default`.
    public static func caseCount(default value: Int) -> Int {
        environment("FUZZ_CASES").flatMap(Int.init) ?? value
    }

    /// The base seed: `FUZZ_SEED` or a fixed one, so CI runs are reproducible.
    public static var baseSeed: UInt64 {
        environment("FUZZ_SEED").flatMap(UInt64.init) ?? 0x7E7E_5EED
    }

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name]
    }

    static let tokens: [String] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\uD800", "\\u0000", "null", "true", "false",
        "-", "1e999999", "-0", "18446744073709551616", "0.0000000001", "\"topic\"", "\"data\"", "\"type\"",
        "\"hello\"", "\"ack\"", "\"publish\"", "\"seq\"", "\n", "\r\n", "\u{1e}", "4", "42", "2", "0", "b", "/ns,",
    ]

    /// The next hostile input.
    public mutating func input() -> [UInt8] {
        let kind = Int.random(in: 0..<12, using: &self)
        if kind == 0 || seeds.isEmpty {
            return (0..<Int.random(in: 0...64, using: &self)).map { _ in UInt8.random(in: 0...255, using: &self) }
        }
        var bytes = seeds[Int.random(in: 0..<seeds.count, using: &self)]
        if kind == 1 {  // deep nesting
            let depth = Int.random(in: 1...5_000, using: &self)
            let open: UInt8 = Bool.random(using: &self) ? UInt8(ascii: "[") : UInt8(ascii: "{")
            return Array(repeating: open, count: depth) + bytes
        }
        for _ in 0..<Int.random(in: 1...4, using: &self) {
            mutate(&bytes)
        }
        return bytes
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &self)
        switch Int.random(in: 0..<8, using: &self) {
        case 0 where !bytes.isEmpty:  // flip a bit
            bytes[position] ^= UInt8(1) << UInt8.random(in: 0...7, using: &self)
        case 1:  // truncate
            bytes.removeSubrange(position...)
        case 2 where !bytes.isEmpty:  // delete a span
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &self)))
        case 3:  // insert a token
            bytes.insert(contentsOf: Self.tokens[Int.random(in: 0..<Self.tokens.count, using: &self)].utf8, at: position)
        case 4:  // invalid UTF-8
            let bad: [[UInt8]] = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]]
            bytes.insert(contentsOf: bad[Int.random(in: 0..<bad.count, using: &self)], at: position)
        case 5 where !bytes.isEmpty:  // repeat a span
            let end = min(bytes.count, position + Int.random(in: 1...16, using: &self))
            let span = bytes[position..<end]
            for _ in 0..<Int.random(in: 1...50, using: &self) { bytes.insert(contentsOf: span, at: position) }
        case 6:  // splice another seed
            if let other = seeds.randomElement(using: &self) {
                let cut = other.isEmpty ? 0 : Int.random(in: 0..<other.count, using: &self)
                bytes.insert(contentsOf: other[cut...], at: position)
            }
        default:  // a random byte
            bytes.insert(UInt8.random(in: 0...255, using: &self), at: position)
        }
    }
}

