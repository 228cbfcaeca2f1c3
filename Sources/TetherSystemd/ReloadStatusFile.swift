import Foundation

/// The outcome of the relay's configuration reloads, kept in one small file that `tether reload`
/// reads, so that `systemctl reload tether` (whose `ExecReload=` runs `tether reload`) returns only
/// once the relay has applied the new configuration or refused it. systemd 252 has no
/// `Type=notify-reload`, and `ExecReload=/bin/kill -HUP` ended the reload job before the relay had
/// even started reloading.
///
/// The file is `$RUNTIME_DIRECTORY/reload-status` (the unit's `RuntimeDirectory=tether`, so
/// `/run/tether/reload-status`): one line, `<pid> <generation> <outcome> <message>`. The relay
/// writes generation 0 once it traps SIGHUP, then the next generation after each reload, always
/// whole (a temporary file renamed over it). Its only writer is the ``ReloadService`` of the relay
/// with that pid; readers only read.
public struct ReloadStatusFile: Sendable {
    public let path: String

    /// What one reload came to.
    public enum Outcome: String, Sendable, Equatable {
        /// The relay traps SIGHUP; no reload yet (generation 0).
        case listening
        /// The new configuration is in force; the message says what was applied.
        case applied
        /// The relay kept its running settings; the message says why.
        case refused
    }

    public struct Record: Sendable, Equatable {
        public var pid: Int32
        public var generation: UInt64
        public var outcome: Outcome
        public var message: String

        public init(pid: Int32, generation: UInt64, outcome: Outcome, message: String) {
            self.pid = pid
            self.generation = generation
            self.outcome = outcome
            self.message = message
        }
    }

    public init(path: String) {
        self.path = path
    }

    /// `$RUNTIME_DIRECTORY/reload-status` (the first directory when systemd lists several), or
    /// `nil` outside a unit with `RuntimeDirectory=`.
    public init?(environment: [String: String]) {
        guard let directory = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first, !directory.isEmpty else { return nil }
        self.init(path: directory + "/reload-status")
    }

    public func write(_ record: Record) throws {
        let message = record.message.map { $0.isNewline ? " " : $0 }
        let line = "\(record.pid) \(record.generation) \(record.outcome.rawValue) \(String(message))\n"
        // Whole or not at all: a reader never sees half a line.
        try Data(line.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The record, or `nil` when the file is absent or not one line of this format.
    public func read() -> Record? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let fields = text.trimmingCharacters(in: .newlines).split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count >= 3, let pid = Int32(fields[0]), let generation = UInt64(fields[1]),
              let outcome = Outcome(rawValue: String(fields[2])) else { return nil }
        return Record(pid: pid, generation: generation, outcome: outcome, message: fields.count > 3 ? String(fields[3]) : "")
    }
}
