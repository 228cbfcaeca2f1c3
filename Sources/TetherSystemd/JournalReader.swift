import CSystemd
import Glibc

/// One journal entry: its wall-clock time and its fields (the last value wins for a field that
/// occurs twice).
public struct JournalEntry: Sendable, Hashable {
    /// Microseconds since the Unix epoch (`__REALTIME_TIMESTAMP`).
    public var realtimeMicroseconds: UInt64
    public var fields: [String: String]

    public init(realtimeMicroseconds: UInt64, fields: [String: String]) {
        self.realtimeMicroseconds = realtimeMicroseconds
        self.fields = fields
    }
}

/// Reads the local journal through libsystemd's reader API (`sd_journal_open`,
/// `sd_journal_add_match`, `sd_journal_next`, …): what `tether timeline` uses.
///
/// Reading needs the right to read the journal (root, or membership of `systemd-journal` or
/// `adm`); without it the reader sees only the caller's own entries, or none.
public enum JournalReader {
    public struct Failure: Error, CustomStringConvertible {
        public var call: String
        public var errno: Int32
        public var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }

    /// Entries whose fields equal every `matches` pair (a conjunction), oldest first, from
    /// `since` (microseconds since the epoch) on, at most `limit`.
    ///
    /// - Parameter directory: read the journal files in this directory instead of the system's.
    public static func entries(
        matching matches: [(String, String)], since: UInt64? = nil, limit: Int = 100_000, directory: String? = nil
    ) throws(Failure) -> [JournalEntry] {
        var journal: OpaquePointer?
        let opened = if let directory {
            sd_journal_open_directory(&journal, directory, 0)
        } else {
            sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
        }
        guard opened >= 0, let journal else { throw Failure(call: "sd_journal_open", errno: -opened) }
        defer { sd_journal_close(journal) }
        _ = sd_journal_set_data_threshold(journal, 0)
        for (field, value) in matches {
            let match = Array("\(field)=\(value)".utf8)
            let added = match.withUnsafeBytes { sd_journal_add_match(journal, $0.baseAddress, match.count) }
            guard added >= 0 else { throw Failure(call: "sd_journal_add_match", errno: -added) }
        }
        let seeked = if let since { sd_journal_seek_realtime_usec(journal, since) } else { sd_journal_seek_head(journal) }
        guard seeked >= 0 else { throw Failure(call: "sd_journal_seek", errno: -seeked) }

        var entries: [JournalEntry] = []
        while entries.count < limit {
            let moved = sd_journal_next(journal)
            guard moved >= 0 else { throw Failure(call: "sd_journal_next", errno: -moved) }
            if moved == 0 { break }
            var realtime: UInt64 = 0
            _ = sd_journal_get_realtime_usec(journal, &realtime)
            if let since, realtime < since { continue }
            var fields: [String: String] = [:]
            var data: UnsafeRawPointer?
            var length = 0
            sd_journal_restart_data(journal)
            while sd_journal_enumerate_data(journal, &data, &length) > 0, let data {
                let text = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                guard let equals = text.firstIndex(of: "=") else { continue }
                fields[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entries.append(JournalEntry(realtimeMicroseconds: realtime, fields: fields))
        }
        return entries
    }
}
