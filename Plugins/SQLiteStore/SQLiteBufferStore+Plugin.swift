public import TetherCore
public import Configuration
import Foundation

extension SQLiteBufferStore {
    /// The database file inside a state directory.
    public static let fileName = "tether.sqlite"

    /// The registry entry for this store: the database is `<state-dir>/tether.sqlite` (the
    /// directory is created), and settings come from `store.sqlite.*`.
    public static let plugin = PluginDescriptor<any BufferStore>(
        name: "sqlite",
        summary: "durable log in <state-dir>/tether.sqlite (SQLite WAL, group commit); survives restarts and kill -9"
    ) { context in
        var configuration = try Configuration(
            reading: context.config,
            path: (context.stateDirectory as NSString).appendingPathComponent(fileName)
        )
        configuration.retention = context.retention
        do {
            try FileManager.default.createDirectory(atPath: context.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw SQLiteStoreError(
                .unavailable,
                "the state directory \(context.stateDirectory) could not be created: \(error.localizedDescription). Set --state-dir (or STATE_DIRECTORY) to a writable directory"
            )
        }
        return SQLiteBufferStore(configuration: configuration)
    }
}

extension SQLiteBufferStore.Configuration {
    /// The store's documented keys (relative to `store.sqlite`), for docs and `--help`.
    public static let keys: [(key: String, meaning: String)] = [
        ("synchronous", "full (default: each commit reaches the disk before 202) or normal (faster; the last commits can be lost on power failure, not on a crash)"),
        ("max-pages", "most 4 KiB pages the database may use, a disk quota; 0 = no limit (default 0)"),
        ("trim-chunk", "most events deleted per trim transaction (default 2000)"),
        ("check-on-open", "quick (default: PRAGMA quick_check at start-up) or none"),
    ]

    /// Reads `synchronous`, `max-pages`, `trim-chunk` and `check-on-open` from the store's
    /// configuration slice (`store.sqlite.*`); anything absent keeps its default.
    ///
    /// - Throws: ``SQLiteStoreError`` naming the key, the value and what would be valid.
    public init(reading config: ConfigReader, path: String) throws {
        self.init(path: path)
        if let text = Self.text(config, "synchronous") {
            guard let mode = Synchronous(rawValue: text.lowercased()) else {
                throw Self.invalid("synchronous", text, "full or normal")
            }
            synchronous = mode
        }
        if let text = Self.text(config, "max-pages") {
            guard let pages = Int(text), pages >= 0 else { throw Self.invalid("max-pages", text, "a whole number of pages, 0 for no limit") }
            maxPages = pages == 0 ? nil : pages
        }
        if let text = Self.text(config, "trim-chunk") {
            guard let chunk = Int(text), (10...1_000_000).contains(chunk) else {
                throw Self.invalid("trim-chunk", text, "a whole number from 10 to 1000000")
            }
            trimChunk = chunk
        }
        if let text = Self.text(config, "check-on-open") {
            switch text.lowercased() {
            case "quick": checkOnOpen = true
            case "none": checkOnOpen = false
            default: throw Self.invalid("check-on-open", text, "quick or none")
            }
        }
    }

    /// A key's value whatever type its provider gave it (environment variables are text).
    private static func text(_ config: ConfigReader, _ key: ConfigKey) -> String? {
        if let string = config.string(forKey: key) { return string.trimmingCharacters(in: .whitespaces) }
        if let int = config.int(forKey: key) { return String(int) }
        return nil
    }

    private static func invalid(_ key: String, _ value: String, _ valid: String) -> SQLiteStoreError {
        SQLiteStoreError(.configuration, "store.sqlite.\(key) \"\(value)\" is not valid; use \(valid)")
    }
}
