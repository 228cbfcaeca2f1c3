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
    /// - Parameter directory: read the journal files in this directory instead of the system's:
    ///   the folder of `.journal` files, or the journal root above it (`/var/log/journal`, whose
    ///   machine-id subfolders hold the files), as `journalctl --directory` accepts both.
    public static func entries(
        matching matches: [(String, String)], since: UInt64? = nil, limit: Int = 100_000, directory: String? = nil
    ) throws(Failure) -> [JournalEntry] {
        var journal: OpaquePointer?
        let opened: Int32
        if let directory {
            let files = journalFiles(under: directory)
            if files.isEmpty {
                opened = sd_journal_open_directory(&journal, directory, 0)
            } else {
                var paths: [UnsafePointer<CChar>?] = files.map { UnsafePointer(strdup($0)) }
                paths.append(nil)
                defer { for path in paths { free(UnsafeMutablePointer(mutating: path)) } }
                opened = sd_journal_open_files(&journal, &paths, 0)
            }
        } else {
            opened = sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY))
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

    /// The `.journal` files (and `.journal~`, journald's files from an unclean stop) in
    /// `directory` and in its immediate subfolders, sorted.
    static func journalFiles(under directory: String) -> [String] {
        func list(_ path: String) -> [(name: String, isDirectory: Bool)] {
            guard let handle = opendir(path) else { return [] }
            defer { closedir(handle) }
            var names: [(String, Bool)] = []
            while let item = readdir(handle) {
                let name = withUnsafePointer(to: item.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                guard name != ".", name != ".." else { continue }
                names.append((name, item.pointee.d_type == UInt8(DT_DIR)))
            }
            return names
        }
        func isJournal(_ name: String) -> Bool { name.hasSuffix(".journal") || name.hasSuffix(".journal~") }
        var files: [String] = []
        for item in list(directory) {
            let path = directory + "/" + item.name
            if isJournal(item.name), !item.isDirectory {
                files.append(path)
            } else {
                // A subfolder (or a link to one: listing anything else yields nothing).
                files += list(path).filter { !$0.isDirectory && isJournal($0.name) }.map { path + "/" + $0.name }
            }
        }
        return files.sorted()
    }
}
