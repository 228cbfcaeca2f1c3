public import Configuration
import Foundation
import SystemPackage
public import TetherCore

/// The configuration `tether serve` and `tether config` run with: flags > `TETHER_*` environment
/// > config file (JSON or YAML) > defaults, read through swift-configuration, plus where each
/// value came from. Loading refuses keys that no component declares and values a declaration
/// does not allow, so a typo fails start-up instead of leaving a default silently in force.
public struct ConfigLayers: Sendable {
    /// One value given on the command line: its key, its text and the flag's spelling.
    public struct Flag: Sendable {
        public var key: String
        public var value: String
        public var flag: String

        public init(_ key: String, _ value: String, flag: String) {
            self.key = key
            self.value = value
            self.flag = flag
        }
    }

    public var settings: Settings
    public var file: ConfigFile?
    /// Every key this build declares (the core's and every compiled-in plugin's).
    public var declared: [ConfigKeySpec]

    /// Reads the layers and checks them.
    ///
    /// - Throws: ``ConfigurationError`` for an unreadable or malformed file (with its line), an
    ///   unknown key or `TETHER_*` variable (with a suggestion), or a value its declaration does
    ///   not allow (naming the key, the value and its source).
    public static func load(
        flags: [Flag], environment: [String: String], configPath: String?, declared: [ConfigKeySpec]
    ) async throws(ConfigurationError) -> ConfigLayers {
        let file = try configPath.map { path throws(ConfigurationError) in try ConfigFile(path: path) }
        if let problem = ConfigKeyCheck.unknownKeys(fileKeys: file?.keys ?? [:], filePath: file?.path, environment: environment, declared: declared) {
            throw problem
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for flag in flags { values[AbsoluteConfigKey(ConfigKey(flag.key))] = .init(stringLiteral: flag.value) }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "tether"),
        ]
        if let file {
            do {
                switch file.format {
                case .json: providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file.path)))
                case .yaml: providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file.path)))
                }
            } catch {
                throw ConfigurationError("config file \(file.path) could not be read as \(file.format.rawValue): \(error)")
            }
        }
        let origins = ConfigOrigins(
            flags: Dictionary(flags.map { ($0.key, $0.flag) }) { $1 }, environment: environment, filePath: file?.path, fileLines: file?.keys ?? [:]
        )
        let layers = ConfigLayers(settings: Settings(reader: ConfigReader(providers: providers), origins: origins), file: file, declared: declared)
        try layers.checkValues()
        return layers
    }

    /// Checks every declared key's value against its declaration, whether or not the component
    /// that reads it is enabled (a config file may serve several set-ups).
    public func checkValues() throws(ConfigurationError) {
        for spec in declared {
            switch spec.kind {
            case .text, .choice: _ = try settings.text(spec)
            case .integer: _ = try settings.integer(spec)
            case .number: _ = try settings.number(spec)
            case .flag: _ = try settings.flag(spec)
            case .list: _ = settings.list(spec)
            }
        }
    }

    /// Each declared key's effective value and where it came from, for `tether config show`;
    /// secrets are masked.
    public func effectiveValues() -> [(spec: ConfigKeySpec, value: String, source: String)] {
        declared.map { spec in
            guard let raw = settings.raw(spec) else { return (spec, spec.defaultValue, "default") }
            let shown = spec.isSecret ? Self.mask(raw, kind: spec.kind) : raw
            return (spec, shown, settings.origins.origin(of: spec.key) ?? "default")
        }
    }

    static func mask(_ value: String, kind: ConfigKeySpec.Kind) -> String {
        if case .list = kind {
            let count = value.split(separator: ",").count
            return "(\(count) secret\(count == 1 ? "" : "s"), masked)"
        }
        // A URL keeps its host and database but not a password: postgres://user:****@host/db.
        if let url = URLComponents(string: value), url.scheme != nil, url.host != nil {
            var masked = url
            if url.password != nil { masked.password = "****" }
            masked.query = url.query.map { _ in "…" }
            return masked.string ?? "(masked)"
        }
        return "(masked)"
    }
}
