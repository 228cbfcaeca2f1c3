public import struct Foundation.Date

/// Appends JSON text to a byte buffer: strings escaped per RFC 8259, numbers, and events with
/// their `data` spliced in as the producer sent it (never re-encoded).
///
/// Written by hand because the hot path formats every delivered event: Foundation's encoders
/// build intermediate values and its ISO 8601 formatter is far slower than the arithmetic below.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func raw(_ data: [UInt8]) {
        bytes.append(contentsOf: data)
    }

    public mutating func number(_ value: UInt64) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    public mutating func number(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        number(UInt64(value.magnitude))
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x00..<0x20:
                raw("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `"YYYY-MM-DDTHH:MM:SS.mmmZ"` (UTC, milliseconds).
    public mutating func timestamp(_ date: Date) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let msOfDay = milliseconds - days * 86_400_000
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        bytes.append(UInt8(ascii: "\""))
        padded(year, 4); bytes.append(UInt8(ascii: "-"))
        padded(month, 2); bytes.append(UInt8(ascii: "-"))
        padded(day, 2); bytes.append(UInt8(ascii: "T"))
        padded(msOfDay / 3_600_000, 2); bytes.append(UInt8(ascii: ":"))
        padded(msOfDay / 60_000 % 60, 2); bytes.append(UInt8(ascii: ":"))
        padded(msOfDay / 1000 % 60, 2); bytes.append(UInt8(ascii: "."))
        padded(msOfDay % 1000, 3)
        raw("Z\"")
    }

    private mutating func padded(_ value: Int64, _ width: Int) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    /// `{"seq":N,"topic":"...","time":"...","data":<raw>}` preceded by `prefix` fields
    /// (e.g. `"type":"event",`), the shape every transport sends.
    public mutating func event(_ event: Event, prefix: StaticString = "") {
        raw("{")
        raw(prefix)
        raw("\"seq\":")
        number(event.seq)
        raw(",\"topic\":")
        string(event.topic)
        raw(",\"time\":")
        timestamp(event.time)
        raw(",\"data\":")
        raw(event.data)
        raw("}")
    }

    /// `"from":F,"to":T,"count":N,"reason":"R"`: a gap's fields, as every transport reports them.
    public mutating func gapFields(_ gap: Gap) {
        raw("\"from\":")
        number(gap.from)
        raw(",\"to\":")
        number(gap.to)
        raw(",\"count\":")
        number(gap.count)
        raw(",\"reason\":")
        string(gap.reason.rawValue)
    }

    /// `{"from":F,"to":T,"count":N,"reason":"R"}`.
    public mutating func gap(_ gap: Gap) {
        raw("{")
        gapFields(gap)
        raw("}")
    }

    private static let hex = Array("0123456789abcdef".utf8)
}

extension JSONWriter {
    /// `{"code":"...","message":"..."}`: the error object of every refusal the relay writes, on
    /// every transport (HTTP bodies, Engine.IO handshakes, Socket.IO answers).
    public mutating func error(code: RelayError.Code, message: String) {
        raw("{\"code\":")
        string(code.rawValue)
        raw(",\"message\":")
        string(message)
        raw("}")
    }
}
