import Foundation

/// A seeded, reproducible generator of hostile decoder inputs for bounded fuzzing: mutations of
/// valid seed inputs (bit flips, truncation, splices, repeated and deleted spans, invalid UTF-8,
/// deep nesting, numeric edge literals in number positions) plus plain random bytes. The same seed yields the same inputs, so a
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

    /// Numbers at the edges of what a client may send (issue 15): around 2^53 (the largest whole
    /// number a double holds exactly), 2^63 (the largest sequence) and 2^64, negatives, fractions,
    /// exponents, numeric strings, leading zeros and signs, white space, hex, NaN and infinities.
    public static let numericEdges: [String] = [
        "0", "1", "9007199254740991", "9007199254740992", "9007199254740993", "9223372036854775806",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "1000000000000000000000000000000", "-1", "-0", "-9223372036854775808", "1.5", "2.0", "1e3", "1E3",
        "1e+3", "1e-3", "1e19", "1e400", "-1e400", "9007199254740992.0", "9007199254740993.0",
        "9.223372036854775807e18", "\"12\"", "\"\"", "\"9223372036854775808\"", "\"1e3\"", "\"+12\"", "007",
        "00000000000000000001", "+1", " 1", "1 ", "\t1", "0x10", "NaN", "Infinity", "-Infinity", "\"NaN\"",
    ]

    /// Every seed with each of its numbers (each run of digits, with its sign, fraction and
    /// exponent) replaced in turn by each of ``numericEdges``: an exhaustive pass over the number
    /// positions the seeds have, to run besides the random ``input()``s.
    public var numericEdgeVariants: [[UInt8]] {
        var variants: [[UInt8]] = []
        for seed in seeds {
            for span in Self.numberSpans(seed) {
                for edge in Self.numericEdges {
                    variants.append(Array(seed[..<span.lowerBound]) + Array(edge.utf8) + Array(seed[span.upperBound...]))
                }
            }
        }
        return variants
    }

    /// The spans of `bytes` that look like numbers: digits with an optional leading `-` and a
    /// following fraction or exponent.
    static func numberSpans(_ bytes: [UInt8]) -> [Range<Int>] {
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        var spans: [Range<Int>] = []
        var index = 0
        while index < bytes.count {
            guard isDigit(bytes[index]) else { index += 1; continue }
            let start = index > 0 && bytes[index - 1] == UInt8(ascii: "-") ? index - 1 : index
            while index < bytes.count, isDigit(bytes[index]) || bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")
                || ((bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) && (bytes[index - 1] == UInt8(ascii: "e") || bytes[index - 1] == UInt8(ascii: "E"))) {
                index += 1
            }
            spans.append(start..<index)
        }
        return spans
    }

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
        switch Int.random(in: 0..<9, using: &self) {
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
        case 7:  // a numeric edge in place of a number, or anywhere when there is none
            let edge = Array(Self.numericEdges[Int.random(in: 0..<Self.numericEdges.count, using: &self)].utf8)
            let spans = Self.numberSpans(bytes)
            if spans.isEmpty {
                bytes.insert(contentsOf: edge, at: position)
            } else {
                bytes.replaceSubrange(spans[Int.random(in: 0..<spans.count, using: &self)], with: edge)
            }
        default:  // a random byte
            bytes.insert(UInt8.random(in: 0...255, using: &self), at: position)
        }
    }
}

