import Glibc
public import Logging

/// Where `tether` writes its log: journald (structured fields, ``JournalLogHandler``) or readable
/// text on stderr. `auto` picks the journal exactly when systemd connected stderr to it: when
/// `$JOURNAL_STREAM` names stderr's device and inode (see systemd.exec(5)).
public enum LogDestination: String, Sendable, CaseIterable {
    case journal
    case stderr
    case auto

    /// `journal` or `stderr`: `auto` decided for this process.
    public func resolved(environment: [String: String]) -> LogDestination {
        guard self == .auto else { return self }
        return Self.stderrIsJournal(environment["JOURNAL_STREAM"]) ? .journal : .stderr
    }

    /// Whether `journalStream` (`"DEVICE:INODE"`) is file descriptor 2.
    public static func stderrIsJournal(_ journalStream: String?) -> Bool {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// The handler factory for `LoggingSystem.bootstrap`: every logger shares `level`.
    public func makeHandlerFactory(level: ReloadableLogLevel, environment: [String: String]) -> @Sendable (String) -> any LogHandler {
        switch resolved(environment: environment) {
        case .journal:
            return { label in JournalLogHandler(label: label, level: level) }
        case .stderr, .auto:
            return { label in SingleLineLogHandler(ReloadableLevelLogHandler(StreamLogHandler.standardError(label: label), level: level)) }
        }
    }
}
