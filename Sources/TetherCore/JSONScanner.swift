/// A validating JSON scanner (RFC 8259) that reports where values are instead of building them.
///
/// Tether stores each event's `data` as the producer's own bytes, so ingest needs the byte range
/// of one member of an envelope object, strict validation (UTF-8 included) and a nesting limit.
/// Foundation's decoders build a tree and re-encode on output, and no package in the mirror
/// exposes raw member spans; hence this small scanner. It never allocates per nested value.
public struct JSONScanner: Sendable {
    /// How deeply arrays and objects may nest before a value is refused.
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    /// The end index of the single JSON value that starts at or after `start` (after leading
    /// white space). Throws if the bytes there are not one complete, valid value.
    public func scanValue(_ bytes: [UInt8], from start: Int, to end: Int) throws(JSONSyntaxError) -> Range<Int> {
        var cursor = Cursor(bytes: bytes, index: start, end: end, maxDepth: maxDepth)
        cursor.skipWhitespace()
        let valueStart = cursor.index
        try cursor.value(depth: 0)
        return valueStart..<cursor.index
    }

    /// Validates that `bytes[range]` is exactly one JSON value with only white space around it,
    /// and returns the value's own range.
    public func validateDocument(_ bytes: [UInt8], in range: Range<Int>) throws(JSONSyntaxError) -> Range<Int> {
        var cursor = Cursor(bytes: bytes, index: range.lowerBound, end: range.upperBound, maxDepth: maxDepth)
        cursor.skipWhitespace()
        guard cursor.index < cursor.end else { throw JSONSyntaxError(.empty, at: cursor.index) }
        let valueStart = cursor.index
        try cursor.value(depth: 0)
        let valueEnd = cursor.index
        cursor.skipWhitespace()
        guard cursor.index == cursor.end else { throw JSONSyntaxError(.trailingData, at: cursor.index) }
        return valueStart..<valueEnd
    }

    /// The members of the object at `range` (already validated or not): each key decoded, each
    /// value as a byte range. Throws `.notAnObject` if the value there is not an object.
    public func members(ofObject bytes: [UInt8], in range: Range<Int>) throws(JSONSyntaxError) -> [(key: String, value: Range<Int>)] {
        var cursor = Cursor(bytes: bytes, index: range.lowerBound, end: range.upperBound, maxDepth: maxDepth)
        cursor.skipWhitespace()
        guard cursor.peek() == UInt8(ascii: "{") else { throw JSONSyntaxError(.notAnObject, at: cursor.index) }
        cursor.index += 1
        var result: [(key: String, value: Range<Int>)] = []
        cursor.skipWhitespace()
        if cursor.peek() == UInt8(ascii: "}") { return result }
        while true {
            cursor.skipWhitespace()
            let keyRange = try cursor.string()
            cursor.skipWhitespace()
            try cursor.expect(UInt8(ascii: ":"))
            cursor.skipWhitespace()
            let valueStart = cursor.index
            try cursor.value(depth: 1)
            result.append((try JSONScanner.decodeString(bytes, quoted: keyRange), valueStart..<cursor.index))
            cursor.skipWhitespace()
            if cursor.peek() == UInt8(ascii: ",") { cursor.index += 1; continue }
            try cursor.expect(UInt8(ascii: "}"))
            return result
        }
    }

    /// The elements of the array at `range`, each as a byte range.
    public func elements(ofArray bytes: [UInt8], in range: Range<Int>) throws(JSONSyntaxError) -> [Range<Int>] {
        var cursor = Cursor(bytes: bytes, index: range.lowerBound, end: range.upperBound, maxDepth: maxDepth)
        cursor.skipWhitespace()
        guard cursor.peek() == UInt8(ascii: "[") else { throw JSONSyntaxError(.notAnArray, at: cursor.index) }
        cursor.index += 1
        var result: [Range<Int>] = []
        cursor.skipWhitespace()
        if cursor.peek() == UInt8(ascii: "]") { return result }
        while true {
            cursor.skipWhitespace()
            let start = cursor.index
            try cursor.value(depth: 1)
            result.append(start..<cursor.index)
            cursor.skipWhitespace()
            if cursor.peek() == UInt8(ascii: ",") { cursor.index += 1; continue }
            try cursor.expect(UInt8(ascii: "]"))
            return result
        }
    }

    /// Decodes the JSON string literal at `quoted` (quotes included) into a Swift string.
    public static func decodeString(_ bytes: [UInt8], quoted: Range<Int>) throws(JSONSyntaxError) -> String {
        guard quoted.count >= 2, bytes[quoted.lowerBound] == UInt8(ascii: "\"") else {
            throw JSONSyntaxError(.notAString, at: quoted.lowerBound)
        }
        let inner = (quoted.lowerBound + 1)..<(quoted.upperBound - 1)
        // Fast path: no escapes, so the bytes are the string (already UTF-8 validated by the scan).
        if !bytes[inner].contains(UInt8(ascii: "\\")) {
            return String(decoding: bytes[inner], as: UTF8.self)
        }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var i = inner.lowerBound
        func flush() {
            if !utf8.isEmpty {
                scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
                utf8.removeAll(keepingCapacity: true)
            }
        }
        while i < inner.upperBound {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else { utf8.append(byte); i += 1; continue }
            flush()
            let escape = bytes[i + 1]
            i += 2
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            default:  // "u", checked by the scan
                var code = hex4(bytes, at: i)
                i += 4
                if (0xD800...0xDBFF).contains(code), i + 6 <= inner.upperBound,
                    bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(bytes, at: i + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                // The scan refuses lone surrogates, so this is a scalar for any scanned input.
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            }
        }
        flush()
        return String(scalars)
    }

    private static func hex4(_ bytes: [UInt8], at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            value = value << 4 | UInt32(hexValue(byte) ?? 0)
        }
        return value
    }

    fileprivate static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Why some bytes are not the JSON that was expected, and where.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case empty = "empty input"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected character"
        case invalidString = "invalid string"
        case invalidUTF8 = "invalid UTF-8"
        case invalidNumber = "invalid number"
        case invalidLiteral = "invalid literal"
        case tooDeep = "nesting too deep"
        case trailingData = "data after the JSON value"
        case notAnObject = "not a JSON object"
        case notAnArray = "not a JSON array"
        case notAString = "not a JSON string"
    }

    public var kind: Kind
    /// Byte offset of the problem in the scanned buffer.
    public var offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String { "\(kind.rawValue) at byte \(offset)" }
}

private struct Cursor {
    let bytes: [UInt8]
    var index: Int
    let end: Int
    let maxDepth: Int

    func peek() -> UInt8? { index < end ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < end {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(JSONSyntaxError) {
        guard let next = peek() else { throw JSONSyntaxError(.unexpectedEnd, at: index) }
        guard next == byte else { throw JSONSyntaxError(.unexpectedByte, at: index) }
        index += 1
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) {
        guard let byte = peek() else { throw JSONSyntaxError(.unexpectedEnd, at: index) }
        switch byte {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw JSONSyntaxError(.unexpectedByte, at: index)
        }
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) {
        guard depth <= maxDepth else { throw JSONSyntaxError(.tooDeep, at: index) }
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw JSONSyntaxError(peek() == nil ? .unexpectedEnd : .unexpectedByte, at: index)
            }
            _ = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) {
        guard depth <= maxDepth else { throw JSONSyntaxError(.tooDeep, at: index) }
        index += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { index += 1; return }
        while true {
            skipWhitespace()
            try value(depth: depth)
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    /// Scans a string literal and returns its range, quotes included.
    mutating func string() throws(JSONSyntaxError) -> Range<Int> {
        let start = index
        guard peek() == UInt8(ascii: "\"") else { throw JSONSyntaxError(.notAString, at: index) }
        index += 1
        while index < end {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return start..<index
            case UInt8(ascii: "\\"):
                guard index + 1 < end else { throw JSONSyntaxError(.unexpectedEnd, at: index) }
                switch bytes[index + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 2
                case UInt8(ascii: "u"):
                    try unicodeEscape()
                default:
                    throw JSONSyntaxError(.invalidString, at: index)
                }
            case 0x00..<0x20:
                throw JSONSyntaxError(.invalidString, at: index)
            case 0x20..<0x80:
                index += 1
            default:
                try utf8Sequence()
            }
        }
        throw JSONSyntaxError(.unexpectedEnd, at: index)
    }

    /// Scans one `\uXXXX` escape at `index`, or a surrogate pair of two. A lone surrogate is
    /// not a Unicode scalar: accepting it would let two different inputs decode to the same
    /// U+FFFD (two producer ids, topics or client ids aliasing each other), so it is malformed.
    mutating func unicodeEscape() throws(JSONSyntaxError) {
        let code = try hex4Escape(at: index)
        index += 6
        switch code {
        case 0xD800...0xDBFF:
            guard index + 1 < end, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                (0xDC00...0xDFFF).contains(try hex4Escape(at: index))
            else { throw JSONSyntaxError(.invalidString, at: index - 6) }
            index += 6
        case 0xDC00...0xDFFF:
            throw JSONSyntaxError(.invalidString, at: index - 6)
        default:
            break
        }
    }

    /// The value of the `\uXXXX` escape starting at `start`.
    private func hex4Escape(at start: Int) throws(JSONSyntaxError) -> UInt32 {
        guard start + 6 <= end else { throw JSONSyntaxError(.unexpectedEnd, at: start) }
        var value: UInt32 = 0
        for offset in 2..<6 {
            guard let digit = JSONScanner.hexValue(bytes[start + offset]) else {
                throw JSONSyntaxError(.invalidString, at: start + offset)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
    mutating func utf8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[index]
        let count: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: count = 2
        case 0xE0: count = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: count = 3
        case 0xED: count = 3; upper = 0x9F
        case 0xF0: count = 4; lower = 0x90
        case 0xF1...0xF3: count = 4
        case 0xF4: count = 4; upper = 0x8F
        default: throw JSONSyntaxError(.invalidUTF8, at: index)
        }
        guard index + count <= end else { throw JSONSyntaxError(.invalidUTF8, at: index) }
        let second = bytes[index + 1]
        guard second >= lower, second <= upper else { throw JSONSyntaxError(.invalidUTF8, at: index + 1) }
        for offset in 2..<max(count, 2) where bytes[index + offset] & 0xC0 != 0x80 {
            throw JSONSyntaxError(.invalidUTF8, at: index + offset)
        }
        index += count
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= end else { throw JSONSyntaxError(.unexpectedEnd, at: index) }
        let matches = word.withUTF8Buffer { expected in
            expected.indices.allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw JSONSyntaxError(.invalidLiteral, at: index) }
        index += count
    }

    mutating func number() throws(JSONSyntaxError) {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), isDigit(first) else { throw JSONSyntaxError(.invalidNumber, at: start) }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            digits()
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let next = peek(), isDigit(next) else { throw JSONSyntaxError(.invalidNumber, at: index) }
            digits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let next = peek(), isDigit(next) else { throw JSONSyntaxError(.invalidNumber, at: index) }
            digits()
        }
    }

    mutating func digits() {
        while let byte = peek(), isDigit(byte) { index += 1 }
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
