public import Foundation

/// One client's connection timeline, built from journal entries that carry `TETHER_EVENT`:
/// what `tether timeline CLIENT_ID` prints.
public struct Timeline: Sendable {
    /// One state change of the client.
    public struct Entry: Sendable, Hashable, Codable {
        public var time: Date
        public var event: String
        public var previousState: String?
        public var state: String?
        public var transport: String?
        public var latencyMilliseconds: String?
        public var quality: String?
        public var seq: String?
        public var connectionID: String?
        public var remote: String?
        public var message: String

        enum CodingKeys: String, CodingKey {
            case time, event, state, transport, quality, seq, remote, message
            case previousState = "prev_state"
            case latencyMilliseconds = "latency_ms"
            case connectionID = "conn_id"
        }

        /// The entry for a journal entry, or `nil` when it is not a connection event.
        public init?(journal entry: JournalEntry) {
            let fields = entry.fields
            guard let event = fields["TETHER_EVENT"] else { return nil }
            time = Date(timeIntervalSince1970: Double(entry.realtimeMicroseconds) / 1_000_000)
            self.event = event
            previousState = fields["TETHER_PREV_STATE"]
            state = fields["TETHER_STATE"]
            transport = fields["TETHER_TRANSPORT"]
            latencyMilliseconds = fields["TETHER_LATENCY_MS"]
            quality = fields["TETHER_QUALITY"]
            seq = fields["TETHER_SEQ"]
            connectionID = fields["TETHER_CONN_ID"]
            remote = fields["TETHER_REMOTE"]
            message = fields["MESSAGE"] ?? ""
        }

        /// `prev → state`, or just the state when the entry names no previous one.
        public var change: String {
            switch (previousState, state) {
            case (let before?, let after?) where before != after: "\(before) → \(after)"
            case (_, let after?): after
            default: "-"
            }
        }
    }

    public var clientID: String
    public var entries: [Entry]

    public init(clientID: String, journal: [JournalEntry]) {
        self.clientID = clientID
        self.entries = journal.compactMap(Entry.init(journal:))
    }

    /// Reads `clientID`'s entries from the local journal (or `directory`).
    public static func read(clientID: String, since: Date?, directory: String? = nil) throws -> Timeline {
        let entries = try JournalReader.entries(
            matching: [("TETHER_CLIENT_ID", clientID)],
            since: since.map { UInt64(max(0, $0.timeIntervalSince1970) * 1_000_000) },
            directory: directory
        )
        return Timeline(clientID: clientID, journal: entries)
    }

    /// A fixed-width table: time, event, state change, transport, latency, quality, seq, connection.
    public func table(timeZone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        let header = ["TIME", "EVENT", "CHANGE", "TRANSPORT", "LATENCY", "QUALITY", "SEQ", "CONN"]
        let rows = entries.map { entry in
            [
                formatter.string(from: entry.time), entry.event, entry.change, entry.transport ?? "-",
                entry.latencyMilliseconds.map { "\($0) ms" } ?? "-", entry.quality ?? "-", entry.seq ?? "-",
                entry.connectionID ?? "-",
            ]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// The entries as a JSON array (times in ISO 8601 with milliseconds, UTC).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            try container.encode(formatter.string(from: date))
        }
        return String(decoding: try encoder.encode(entries), as: UTF8.self) + "\n"
    }

    /// Parses `--since`: an absolute time (`2026-11-20`, `2026-11-20 10:15[:30]`, ISO 8601 with a
    /// zone) in the local zone unless given, or a span back from `now` (`90s`, `15m`, `2h`, `1d`,
    /// optionally written `-15m` or `15m ago`).
    public static func parseSince(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) -> Date? {
        var span = text.trimmingCharacters(in: .whitespaces)
        if span.hasSuffix(" ago") { span = String(span.dropLast(4)).trimmingCharacters(in: .whitespaces) }
        if span.hasPrefix("-") { span.removeFirst() }
        if let unit = span.last, let amount = Double(span.dropLast()), amount >= 0 {
            let seconds: Double? = switch unit {
            case "s": amount
            case "m": amount * 60
            case "h": amount * 3600
            case "d": amount * 86_400
            default: nil
            }
            if let seconds { return now.addingTimeInterval(-seconds) }
        }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime]
        if let date = iso.date(from: text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
