public import Configuration
public import Logging

/// What a plugin gets when the registry builds it: its own slice of the configuration (keys under
/// `<kind>.<name>`, e.g. `store.sqlite.path`), the relay's settings it may need, and a logger.
public struct PluginContext: Sendable {
    public var config: ConfigReader
    /// Where durable plugins keep their files (`$STATE_DIRECTORY`, `--state-dir`, or `./tether-data`).
    public var stateDirectory: String
    public var retention: RetentionPolicy
    public var logger: Logger

    public init(config: ConfigReader, stateDirectory: String, retention: RetentionPolicy, logger: Logger) {
        self.config = config
        self.stateDirectory = stateDirectory
        self.retention = retention
        self.logger = logger
    }
}

/// One compiled-in plugin: its name (what configuration selects it by), a one-line summary, and
/// how to build it from a ``PluginContext``.
public struct PluginDescriptor<Plugin>: Sendable {
    public var name: String
    public var summary: String
    public var make: @Sendable (PluginContext) async throws -> Plugin

    public init(name: String, summary: String, make: @escaping @Sendable (PluginContext) async throws -> Plugin) {
        self.name = name
        self.summary = summary
        self.make = make
    }
}

/// The plugins compiled into this binary, by kind. A value built once in `main` from the list of
/// built-ins (tests build their own); it is the only place that turns a configured name into a
/// plugin, so nothing else switches on plugin names.
public struct PluginRegistry: Sendable {
    public var stores: [PluginDescriptor<any BufferStore>]

    public init(stores: [PluginDescriptor<any BufferStore>]) {
        self.stores = stores
    }

    /// The store plugin called `name`.
    /// - Throws: ``PluginError`` naming the plugins that do exist.
    public func store(named name: String) throws(PluginError) -> PluginDescriptor<any BufferStore> {
        guard let descriptor = stores.first(where: { $0.name == name }) else {
            throw PluginError(kind: "store", name: name, known: stores.map(\.name))
        }
        return descriptor
    }

    /// Every plugin as `(kind, name, summary)`, for `tether plugins`.
    public var catalog: [(kind: String, name: String, summary: String)] {
        stores.map { ("store", $0.name, $0.summary) }
    }
}

/// Configuration named a plugin this binary does not have.
public struct PluginError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var known: [String]

    public var description: String {
        "unknown \(kind) plugin \"\(name)\"; this build has: \(known.joined(separator: ", "))"
    }
}
