public import Foundation

extension Timeline {
    /// Parses `--since` as `journalctl --since` reads the common forms (systemd.time(7)):
    /// - `now`, `today`, `yesterday`, `tomorrow` (midnight, in `timeZone`);
    /// - a span back from `now`: `-15m`, `15m ago`, `2 hours ago`, `1h 30min`, `90s` (units
    ///   `s`/`sec`/`second(s)`, `m`/`min`/`minute(s)`, `h`/`hr`/`hour(s)`, `d`/`day(s)`,
    ///   `w`/`week(s)`, `ms`/`msec`, `us`/`usec`); a bare span also counts back; `+1h` counts forward;
    /// - a time: `2026-11-20`, `2026-11-20 10:15[:30[.123]]`, `10:15[:30]` (today), ISO 8601 with
    ///   or without a zone, `@1700000000` (Unix seconds). Without a zone, `timeZone` applies.
    ///
    /// Returns `nil` for anything else.
    public static func parseSince(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let midnight = calendar.startOfDay(for: now)
        switch trimmed.lowercased() {
        case "now": return now
        case "today": return midnight
        case "yesterday": return calendar.date(byAdding: .day, value: -1, to: midnight)
        case "tomorrow": return calendar.date(byAdding: .day, value: 1, to: midnight)
        default: break
        }
        if trimmed.hasPrefix("@"), let seconds = Double(trimmed.dropFirst()) {
            return Date(timeIntervalSince1970: seconds)
        }
        var span = trimmed
        var sign = -1.0
        if span.hasSuffix(" ago") {
            span = String(span.dropLast(4))
        } else if span.hasPrefix("-") {
            span.removeFirst()
        } else if span.hasPrefix("+") {
            span.removeFirst()
            sign = 1
        }
        if let seconds = spanSeconds(span) { return now.addingTimeInterval(sign * seconds) }
        return parseTime(trimmed, day: midnight, timeZone: timeZone)
    }

    /// `1h 30min`, `90s`, `2 hours`: seconds, or `nil` when it is not a span.
    static func spanSeconds(_ text: String) -> Double? {
        let units: [String: Double] = [
            "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
            "s": 1, "sec": 1, "second": 1, "seconds": 1,
            "m": 60, "min": 60, "minute": 60, "minutes": 60,
            "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
            "d": 86_400, "day": 86_400, "days": 86_400,
            "w": 604_800, "week": 604_800, "weeks": 604_800,
        ]
        var scalars = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !scalars.isEmpty else { return nil }
        var total = 0.0
        while !scalars.isEmpty {
            let number = scalars.prefix { $0.isNumber || $0 == "." }
            guard let amount = Double(number) else { return nil }
            scalars = scalars.dropFirst(number.count).drop { $0 == " " }
            let unit = scalars.prefix { $0.isLetter }
            guard let factor = units[String(unit)] else { return nil }
            total += amount * factor
            scalars = scalars.dropFirst(unit.count).drop { $0 == " " }
        }
        return total
    }

    /// An absolute time, or a time of day on `day`.
    static func parseTime(_ text: String, day: Date, timeZone: TimeZone) -> Date? {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime]
        if let date = iso.date(from: text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        for format in ["yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        let parts = text.split(separator: ":")
        if (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
            let hour = Int(parts[0]), let minute = Int(parts[1]), hour < 24, minute < 60
        {
            let second = parts.count == 3 ? Int(parts[2]) ?? 0 : 0
            guard second < 60 else { return nil }
            return day.addingTimeInterval(Double(hour * 3600 + minute * 60 + second))
        }
        return nil
    }
}
