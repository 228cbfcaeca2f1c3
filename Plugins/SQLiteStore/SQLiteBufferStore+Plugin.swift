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
        summary: "durable log in <state-dir>/tether.sqlite (SQLite WAL, group commit); survives restarts and kill -9",
        keys: Configuration.keys
    ) { context in
        var configuration = try Configuration(
            reading: context.settings,
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
    static let synchronousKey = ConfigKeySpec(
        "synchronous", .choice(["full", "normal"]), default: "full",
        "full: each commit reaches the disk before 202; normal: faster, the last commits can be lost on power failure (not on a crash)"
    )
    static let maxPagesKey = ConfigKeySpec(
        "max-pages", .integer(0...Int.max), default: "0", "most 4 KiB pages the database may use, a disk quota; 0 = no limit"
    )
    static let trimChunkKey = ConfigKeySpec("trim-chunk", .integer(10...1_000_000), default: "2000", "most events deleted per trim transaction")
    static let checkOnOpenKey = ConfigKeySpec(
        "check-on-open", .choice(["quick", "none"]), default: "quick", "quick: PRAGMA quick_check at start-up, so a damaged file fails start-up; none: skip it"
    )

    /// The store's keys, relative to `store.sqlite`.
    public static let keys = [synchronousKey, maxPagesKey, trimChunkKey, checkOnOpenKey]

    /// Reads the keys above from the store's configuration slice (`store.sqlite.*`); anything
    /// absent keeps its default.
    ///
    /// - Throws: ``ConfigurationError`` naming the key, the value, its source and what would be valid.
    public init(reading settings: Settings, path: String) throws(ConfigurationError) {
        self.init(path: path)
        if let mode = try settings.text(Self.synchronousKey) { synchronous = Synchronous(rawValue: mode) ?? synchronous }
        if let pages = try settings.integer(Self.maxPagesKey) { maxPages = pages == 0 ? nil : pages }
        if let chunk = try settings.integer(Self.trimChunkKey) { trimChunk = chunk }
        if let check = try settings.text(Self.checkOnOpenKey) { checkOnOpen = check == "quick" }
    }

    /// The same, from a reader already scoped to `store.sqlite`.
    public init(reading config: ConfigReader, path: String) throws(ConfigurationError) {
        try self.init(reading: Settings(reader: config, scope: "store.sqlite"), path: path)
    }
}
