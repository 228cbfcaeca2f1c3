public import Configuration
public import Logging

/// What a plugin gets when the registry builds it: its own slice of the configuration (keys under
/// `<kind>.<name>`, e.g. `store.sqlite.synchronous`), the relay's settings it may need, and a logger.
public struct PluginContext: Sendable {
    public var config: ConfigReader
    /// The same slice through the declared-key reader: values are checked against the plugin's
    /// ``PluginDescriptor/keys`` and errors name their source.
    public var settings: Settings
    /// Where durable plugins keep their files (`--state-dir`, `$STATE_DIRECTORY`, or `./tether-data`).
    public var stateDirectory: String
    public var retention: RetentionPolicy
    /// The relay's ingest limits, so that every transport that accepts publishes enforces the
    /// same ones as `POST /v1/events`.
    public var limits: IngestLimits
    public var logger: Logger

    public init(
        config: ConfigReader, settings: Settings? = nil, stateDirectory: String, retention: RetentionPolicy, limits: IngestLimits = IngestLimits(),
        logger: Logger
    ) {
        self.config = config
        self.settings = settings ?? Settings(reader: config)
        self.stateDirectory = stateDirectory
        self.retention = retention
        self.limits = limits
        self.logger = logger
    }
}

/// One compiled-in plugin: its name (what configuration selects it by), a one-line summary, the
/// keys it reads (relative to its slice `<kind>.<name>`), and how to build it from a
/// ``PluginContext``.
public struct PluginDescriptor<Plugin>: Sendable {
    public var name: String
    public var summary: String
    public var keys: [ConfigKeySpec]
    public var make: @Sendable (PluginContext) async throws -> Plugin

    public init(name: String, summary: String, keys: [ConfigKeySpec] = [], make: @escaping @Sendable (PluginContext) async throws -> Plugin) {
        self.name = name
        self.summary = summary
        self.keys = keys
        self.make = make
    }
}

/// The plugins compiled into this binary, by kind. A value built once in `main` from the list of
/// built-ins (tests build their own); it is the only place that turns a configured name into a
/// plugin, so nothing else switches on plugin names.
///
/// `Routes` is the server's router type, which transports and exporters register on.
public struct PluginRegistry<Routes>: Sendable {
    public var stores: [PluginDescriptor<any BufferStore>]
    public var transports: [PluginDescriptor<any Transport<Routes>>]
    public var exporters: [PluginDescriptor<any MetricsExporter<Routes>>]

    public init(
        stores: [PluginDescriptor<any BufferStore>],
        transports: [PluginDescriptor<any Transport<Routes>>] = [],
        exporters: [PluginDescriptor<any MetricsExporter<Routes>>] = []
    ) {
        self.stores = stores
        self.transports = transports
        self.exporters = exporters
    }

    /// The store plugin called `name`.
    /// - Throws: ``PluginError`` naming the store plugins that do exist.
    public func store(named name: String) throws(PluginError) -> PluginDescriptor<any BufferStore> {
        try Self.find(name, in: stores, kind: "store")
    }

    /// The transport plugins called `names`, in that order.
    public func transports(named names: [String]) throws(PluginError) -> [PluginDescriptor<any Transport<Routes>>] {
        var found: [PluginDescriptor<any Transport<Routes>>] = []
        for name in names { found.append(try Self.find(name, in: transports, kind: "transport")) }
        return found
    }

    /// The exporter plugins called `names`, in that order.
    public func exporters(named names: [String]) throws(PluginError) -> [PluginDescriptor<any MetricsExporter<Routes>>] {
        var found: [PluginDescriptor<any MetricsExporter<Routes>>] = []
        for name in names { found.append(try Self.find(name, in: exporters, kind: "exporter")) }
        return found
    }

    /// Every key every compiled-in plugin declares, by its full name (`store.sqlite.synchronous`).
    /// A key of a plugin that is not selected is still known (a config file may serve several set-ups).
    public var declaredKeys: [ConfigKeySpec] {
        stores.flatMap { descriptor in descriptor.keys.map { $0.scoped(under: "store", descriptor.name) } }
            + transports.flatMap { descriptor in descriptor.keys.map { $0.scoped(under: "transport", descriptor.name) } }
            + exporters.flatMap { descriptor in descriptor.keys.map { $0.scoped(under: "exporter", descriptor.name) } }
    }

    /// Every plugin as `(kind, name, summary)`, for `tether plugins`.
    public var catalog: [(kind: String, name: String, summary: String)] {
        stores.map { ("store", $0.name, $0.summary) }
            + transports.map { ("transport", $0.name, $0.summary) }
            + exporters.map { ("exporter", $0.name, $0.summary) }
    }

    private static func find<P>(_ name: String, in list: [PluginDescriptor<P>], kind: String) throws(PluginError) -> PluginDescriptor<P> {
        guard let descriptor = list.first(where: { $0.name == name }) else {
            throw PluginError(kind: kind, name: name, known: list.map(\.name))
        }
        return descriptor
    }
}

/// Configuration named a plugin this binary does not have.
public struct PluginError: Error, Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public var known: [String]

    public var description: String {
        let choices = known.isEmpty ? "none" : known.joined(separator: ", ")
        return "unknown \(kind) plugin \"\(name)\"; this build has: \(choices)"
    }
}
