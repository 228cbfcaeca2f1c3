import Logging
import TetherCore
import Testing
@testable import TetherSystemd

@Suite struct JournalLogHandlerTests {
    @Test(arguments: [
        ("tether.client_id", "TETHER_CLIENT_ID"),
        ("tether.latency_ms", "TETHER_LATENCY_MS"),
        ("error", "TETHER_ERROR"),
        ("MESSAGE", "TETHER_MESSAGE"),
        ("_PID", "TETHER_PID"),
        ("__CURSOR", "TETHER_CURSOR"),
        ("hb.request.id", "TETHER_HB_REQUEST_ID"),
        ("priority", "TETHER_PRIORITY"),
        ("é-x", "TETHER_X"),
        ("", "TETHER_FIELD"),
    ])
    func metadataKeysBecomeTetherFields(key: String, field: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == field)
    }

    @Test func fieldNamesAreValidJournalNamesAndNeverTrustedOrSystemdOnes() {
        let long = JournalLogHandler.fieldName(forMetadataKey: String(repeating: "k", count: 200))
        #expect(long.count == 64)
        for key in ["SYSLOG_IDENTIFIER", "CODE_FILE", "_SYSTEMD_UNIT", "MESSAGE_ID", "x y", "9lives"] {
            let name = JournalLogHandler.fieldName(forMetadataKey: key)
            #expect(name.hasPrefix("TETHER_"))
            #expect(name.allSatisfy { ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" })
        }
    }

    @Test func connectionEntryCarriesStandardFieldsMessageIDAndMetadata() {
        let handler = JournalLogHandler(label: "tether.relay")
        let event = LogEvent(
            level: .warning, message: "client went stale",
            metadata: [LogKey.event: "stale", LogKey.clientID: "c-1", LogKey.seq: "42", "nested": ["a": "1"]],
            source: nil, file: "TetherCore/ClientTable.swift", function: "sweepClients(now:)", line: 77
        )
        let fields = Dictionary(handler.fields(for: event), uniquingKeysWith: { $1 })
        #expect(fields["MESSAGE"] == "client went stale")
        #expect(fields["PRIORITY"] == "4")
        #expect(fields["SYSLOG_IDENTIFIER"] == "tether")
        #expect(fields["CODE_FILE"] == "TetherCore/ClientTable.swift")
        #expect(fields["CODE_LINE"] == "77")
        #expect(fields["CODE_FUNC"] == "sweepClients(now:)")
        #expect(fields["MESSAGE_ID"] == JournalCatalog.messageID(for: .stale))
        #expect(fields["TETHER_EVENT"] == "stale")
        #expect(fields["TETHER_CLIENT_ID"] == "c-1")
        #expect(fields["TETHER_SEQ"] == "42")
        #expect(fields["TETHER_NESTED"] == "[a: 1]")
        #expect(fields["TETHER_LOGGER"] == "tether.relay")
    }

    @Test func entryWithoutAKnownEventHasNoMessageID() {
        let handler = JournalLogHandler(label: "tether")
        let event = LogEvent(level: .info, message: "listening", metadata: ["store": "memory"], source: nil, file: "f", function: "g", line: 1)
        let names = handler.fields(for: event).map(\.0)
        #expect(!names.contains("MESSAGE_ID"))
        #expect(names.contains("TETHER_STORE"))
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelsMapToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournalLogHandler.priority(level) == priority)
    }

    @Test func sharedLevelChangesEveryHandlerAtOnce() {
        let level = ReloadableLogLevel(.info)
        let journal = JournalLogHandler(label: "a", level: level)
        let stream = ReloadableLevelLogHandler(StreamLogHandler.standardError(label: "b"), level: level)
        level.level = .debug
        #expect(journal.logLevel == .debug)
        #expect(stream.logLevel == .debug)
    }

    /// A library quieting its own logger copy (postgres-nio's background logger is set to
    /// `.error`) must not silence the rest of the relay.
    @Test func aLoggerCopysOwnLevelStaysWithThatCopy() {
        let level = ReloadableLogLevel(.info)
        var quiet = ReloadableLevelLogHandler(StreamLogHandler.standardError(label: "lib"), level: level)
        let other = ReloadableLevelLogHandler(StreamLogHandler.standardError(label: "relay"), level: level)
        var quietJournal = JournalLogHandler(label: "lib", level: level)
        quiet.logLevel = .error
        quietJournal.logLevel = .error
        #expect(quiet.logLevel == .error && quietJournal.logLevel == .error)
        #expect(other.logLevel == .info && level.level == .info)
    }

    @Test func autoDestinationIsStderrWithoutAMatchingJournalStream() {
        #expect(LogDestination.auto.resolved(environment: [:]) == .stderr)
        #expect(LogDestination.auto.resolved(environment: ["JOURNAL_STREAM": "1:1"]) == .stderr)
        #expect(LogDestination.auto.resolved(environment: ["JOURNAL_STREAM": "garbage"]) == .stderr)
        #expect(LogDestination.journal.resolved(environment: [:]) == .journal)
    }
}
