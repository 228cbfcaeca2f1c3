public import TetherCore

/// The fixed journald `MESSAGE_ID` of each kind of entry that belongs to a client's connection
/// timeline (plus the watchdog's). `deploy/systemd/tether.catalog` has one entry per id, so
/// `journalctl -x` explains them; a test checks that the two agree.
///
/// An id never changes once shipped: operators filter on it (`journalctl MESSAGE_ID=…`).
public enum JournalCatalog {
    /// The `tether.event` value of the watchdog's "degraded" entries (not a client's event).
    public static let watchdogDegradedEvent = "watchdog_degraded"

    /// The `MESSAGE_ID` of each connection event. The switch is exhaustive so that a new kind of
    /// ``ConnectionEvent`` cannot ship without an id (and, by the catalog test, an explanation).
    public static func messageID(for event: ConnectionEvent) -> String {
        switch event {
        case .connected: "d2a642736dd2443398fc267fcc1a6615"
        case .resumed: "48a7eaac5e364d71a37e91fe5ed8c1bd"
        case .replayGap: "e74acf0005ee417c887ce8a299e35df5"
        case .reset: "e1ac66ccd9574e4580f0401fcd64c2ef"
        case .stale: "8d6fadbc17b9400fa4f584bdefd2cbac"
        case .active: "65f7822277404ab39b9cd019e24913d9"
        case .disconnected: "749a694194ac4947ad864030fb56deb1"
        case .superseded: "7f07fe8e6c85404680f905ab7f6f0fd6"
        case .forgotten: "fe01125747fb4af2a6124ad4279d44a6"
        case .resumeRefused: "c7f20e15445a4e818bc5064dd2df194f"
        case .slowConsumer: "6da6ea063b624cf3a4b0a62eaac6d4a8"
        }
    }

    public static let watchdogDegradedMessageID = "2bf50a8cee8348e593a235bbb2027720"

    /// `tether.event` value → `MESSAGE_ID`, for every kind with a catalog entry.
    public static let messageIDs: [String: String] = {
        var ids = Dictionary(uniqueKeysWithValues: ConnectionEvent.allCases.map { ($0.rawValue, messageID(for: $0)) })
        ids[watchdogDegradedEvent] = watchdogDegradedMessageID
        return ids
    }()
}
