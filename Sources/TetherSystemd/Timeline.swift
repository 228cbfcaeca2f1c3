public import Foundation

/// One client's connection timeline, built from journal entries that carry `TETHER_EVENT`:
/// what `tether timeline CLIENT_ID` prints.
public struct Timeline: Sendable {
    /// One state change of the client.
    public struct Entry: Sendable, Hashable, Encodable {
        public var time: Date
        public var event: String
        public var previousState: String?
        public var state: String?
        public var transport: String?
        public var latencyMilliseconds: Double?
        public var quality: Double?
        public var seq: UInt64?
        /// The relay's own connection id (`TETHER_CONN_ID`): it starts again at 1 when the relay
        /// restarts, so it names a connection only within one run of the relay.
        public var connectionID: UInt64?
        /// Which run of the relay wrote the entry: `_SYSTEMD_INVOCATION_ID`, or, outside systemd,
        /// `_BOOT_ID` and `_PID`.
        public var invocation: String?
        /// The connection's number in this timeline, 1 for the first, counted over every run of
        /// the relay: (``invocation``, ``connectionID``) pairs numbered in order of appearance.
        public var connection: Int?
        public var remote: String?
        /// Why the connection ended or the hello was refused (`TETHER_REASON`).
        public var reason: String?
        public var message: String

        enum CodingKeys: String, CodingKey {
            case time, event, state, transport, quality, seq, remote, message, reason, invocation, connection
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
            latencyMilliseconds = fields["TETHER_LATENCY_MS"].flatMap(Double.init)
            quality = fields["TETHER_QUALITY"].flatMap(Double.init)
            seq = fields["TETHER_SEQ"].flatMap { UInt64($0) }
            connectionID = fields["TETHER_CONN_ID"].flatMap { UInt64($0) }
            invocation = fields["_SYSTEMD_INVOCATION_ID"]
                ?? fields["_BOOT_ID"].map { boot in "\(boot)/\(fields["_PID"] ?? "?")" }
                ?? fields["_PID"]
            remote = fields["TETHER_REMOTE"]
            reason = fields["TETHER_REASON"]
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

        /// A number as the journal field wrote it: `12.0`, `1.0`.
        static func text(_ value: Double) -> String { "\(value)" }
    }

    public var clientID: String
    public var entries: [Entry]

    public init(clientID: String, journal: [JournalEntry]) {
        self.clientID = clientID
        var entries = journal.compactMap(Entry.init(journal:))
        var numbers: [String: Int] = [:]
        for index in entries.indices {
            guard let id = entries[index].connectionID else { continue }
            let key = "\(entries[index].invocation ?? "")#\(id)"
            if numbers[key] == nil { numbers[key] = numbers.count + 1 }
            entries[index].connection = numbers[key]
        }
        self.entries = entries
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

    /// A fixed-width table: time, event, state change, transport, latency, quality, seq, connection
    /// (``Entry/connection``, numbered across relay restarts), remote and reason (last, unpadded).
    public func table(timeZone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        let header = ["TIME", "EVENT", "CHANGE", "TRANSPORT", "LATENCY", "QUALITY", "SEQ", "CONN", "REMOTE", "REASON"]
        let rows = entries.map { entry -> [String] in
            let latency: String = entry.latencyMilliseconds.map { Entry.text($0) + " ms" } ?? "-"
            let quality: String = entry.quality.map(Entry.text) ?? "-"
            let seq: String = entry.seq.map { String($0) } ?? "-"
            let connection: String = entry.connection.map { String($0) } ?? "-"
            let time: String = formatter.string(from: entry.time)
            return [
                time, entry.event, entry.change, entry.transport ?? "-", latency, quality, seq, connection,
                entry.remote ?? "-", entry.reason ?? "-",
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

    /// The entries as a JSON array (times in ISO 8601 with milliseconds, UTC; sequence numbers,
    /// ids, latency and quality as JSON numbers; absent fields left out).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            try container.encode(formatter.string(from: date))
        }
        return String(decoding: try encoder.encode(entries), as: UTF8.self) + "\n"
    }
}
