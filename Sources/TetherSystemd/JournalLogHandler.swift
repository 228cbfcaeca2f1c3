import CSystemd
public import Logging
import TetherCore

/// A swift-log `LogHandler` that writes each entry to journald as structured fields with
/// `sd_journal_sendv`.
///
/// Fields: `MESSAGE`, `PRIORITY` (syslog severity), `SYSLOG_IDENTIFIER` (`tether`),
/// `CODE_FILE`/`CODE_LINE`/`CODE_FUNC` (the caller's), `TETHER_LOGGER` (the logger's label),
/// `MESSAGE_ID` for the kinds in ``JournalCatalog``, and every metadata key as a `TETHER_*`
/// field (``fieldName(forMetadataKey:)``): user data can never collide with a trusted `_` field
/// or a systemd field.
///
/// The level can be shared with a ``ReloadableLogLevel`` so that a SIGHUP reload changes it for
/// every logger at once.
public struct JournalLogHandler: LogHandler {
    public let label: String
    public let identifier: String
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private var ownLevel: Logger.Level = .info
    private let sharedLevel: ReloadableLogLevel?
    /// A level this logger copy set for itself (`logger.logLevel = .error` on a library's logger):
    /// it applies to this copy only, never to the process-wide level a reload changes.
    private var overrideLevel: Logger.Level?

    public init(label: String, identifier: String = "tether", level: ReloadableLogLevel? = nil, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.identifier = identifier
        self.sharedLevel = level
        self.metadataProvider = metadataProvider
    }

    public var logLevel: Logger.Level {
        get { overrideLevel ?? sharedLevel?.level ?? ownLevel }
        set {
            if sharedLevel != nil { overrideLevel = newValue } else { ownLevel = newValue }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        JournalWriter.send(fields(for: event))
    }

    /// The entry's fields, in order, as `(name, value)`. Pure, so that tests can check the mapping
    /// without a journald.
    public func fields(for event: LogEvent) -> [(String, String)] {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }

        var fields: [(String, String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", "\(Self.priority(event.level))"),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", "\(event.line)"),
            ("CODE_FUNC", event.function),
            ("TETHER_LOGGER", label),
        ]
        if case .string(let kind)? = merged[LogKey.event], let id = JournalCatalog.messageIDs[kind] {
            fields.append(("MESSAGE_ID", id))
        } else if case .stringConvertible(let kind)? = merged[LogKey.event], let id = JournalCatalog.messageIDs[kind.description] {
            fields.append(("MESSAGE_ID", id))
        }
        if let error = event.error { fields.append(("TETHER_ERROR", "\(error)")) }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append((Self.fieldName(forMetadataKey: key), Self.render(value)))
        }
        return fields
    }

    /// A journal field name for a metadata key: uppercase ASCII letters, digits and `_`, at most
    /// 64 characters, always starting with `TETHER_` (so never `_`-prefixed, which journald
    /// reserves for trusted fields, and never one of systemd's own names). `tether.client_id`
    /// becomes `TETHER_CLIENT_ID`; `error` becomes `TETHER_ERROR`.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = String(key.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z": Character(String(scalar).uppercased())
            case "A"..."Z", "0"..."9": Character(scalar)
            default: "_"
            }
        })
        while name.hasPrefix("_") { name.removeFirst() }
        if !name.hasPrefix("TETHER_") { name = "TETHER_" + name }
        if name == "TETHER_" { name = "TETHER_FIELD" }
        return String(name.prefix(64))
    }

    /// syslog severities: journald's `PRIORITY`.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let items): "[" + items.map(render).joined(separator: ", ") + "]"
        case .dictionary(let entries):
            "[" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \(render($0.value))" }.joined(separator: ", ") + "]"
        }
    }
}
