public import Configuration
import Foundation

/// Where each configured value came from, so that an error or `tether config show` can say
/// "from --listen", "from TETHER_WINDOW" or "from /etc/tether.yaml:12". Built once by the process
/// that assembled the layers; immutable.
public struct ConfigOrigins: Sendable {
    /// Keys set by command-line flags, with the flag's spelling (`listen` → `--listen`).
    public var flags: [String: String]
    /// The process environment (only `TETHER_*` names matter).
    public var environment: [String: String]
    /// The config file's path and the line of each key it sets.
    public var filePath: String?
    public var fileLines: [String: Int]

    public init(flags: [String: String] = [:], environment: [String: String] = [:], filePath: String? = nil, fileLines: [String: Int] = [:]) {
        self.flags = flags
        self.environment = environment
        self.filePath = filePath
        self.fileLines = fileLines
    }

    /// The layer that supplies `key`, highest first (flags > environment > file), or nil when
    /// only the default applies.
    public func origin(of key: String) -> String? {
        if let flag = flags[key] { return flag }
        let variable = ConfigKeySpec.environmentName(key)
        if environment[variable] != nil { return variable }
        if let filePath, let line = fileLines[key] { return line > 0 ? "\(filePath):\(line)" : filePath }
        return nil
    }
}

/// The one reader of declared keys: a value of whatever type its provider gave it (environment
/// variables are text, a JSON file holds numbers), checked against its ``ConfigKeySpec``.
/// Anything wrong throws ``ConfigurationError`` naming the key, the value, its source and what is
/// allowed. `nil` means the key is not set and the caller keeps its default.
public struct Settings: Sendable {
    public let reader: ConfigReader
    public let origins: ConfigOrigins
    /// The slice this reader is scoped to (`store.sqlite`), or empty for the whole configuration.
    public let scope: String

    public init(reader: ConfigReader, origins: ConfigOrigins = ConfigOrigins(), scope: String = "") {
        self.reader = reader
        self.origins = origins
        self.scope = scope
    }

    /// The slice of one plugin: `scoped(to: "store", "sqlite")` reads `store.sqlite.*`.
    public func scoped(to kind: String, _ name: String) -> Settings {
        Settings(reader: reader.scoped(to: [kind, name]), origins: origins, scope: scope.isEmpty ? "\(kind).\(name)" : "\(scope).\(kind).\(name)")
    }

    func fullKey(_ spec: ConfigKeySpec) -> String {
        scope.isEmpty || spec.key.hasPrefix(scope + ".") ? spec.key : "\(scope).\(spec.key)"
    }

    func relativeKey(_ spec: ConfigKeySpec) -> ConfigKey {
        let full = fullKey(spec)
        return ConfigKey(scope.isEmpty ? full : String(full.dropFirst(scope.count + 1)))
    }

    /// The value as text, whatever type the provider holds it as.
    public func raw(_ spec: ConfigKeySpec) -> String? {
        let key = relativeKey(spec)
        if let string = reader.string(forKey: key) { return string }
        if let int = reader.int(forKey: key) { return String(int) }
        if let double = reader.double(forKey: key) { return String(double) }
        if let bool = reader.bool(forKey: key) { return String(bool) }
        if let array = reader.stringArray(forKey: key) { return array.joined(separator: ",") }
        return nil
    }

    /// The error for a value `spec` does not allow.
    public func invalid(_ spec: ConfigKeySpec, _ value: String, _ allowed: String? = nil) -> ConfigurationError {
        let key = fullKey(spec)
        let source = origins.origin(of: key).map { " (from \($0))" } ?? ""
        return ConfigurationError("\(key) \"\(value)\"\(source) is not \(allowed ?? spec.allowed)")
    }

    public func text(_ spec: ConfigKeySpec) throws(ConfigurationError) -> String? {
        guard let text = raw(spec)?.trimmingCharacters(in: .whitespaces) else { return nil }
        if case .choice(let words) = spec.kind, !words.contains(text.lowercased()) {
            throw invalid(spec, text)
        }
        if case .choice = spec.kind { return text.lowercased() }
        return text
    }

    public func integer(_ spec: ConfigKeySpec) throws(ConfigurationError) -> Int? {
        guard let text = raw(spec)?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard case .integer(let range) = spec.kind else { preconditionFailure("\(spec.key) is not declared as a whole number") }
        guard let value = Int(text), range.contains(value) else { throw invalid(spec, text) }
        return value
    }

    public func number(_ spec: ConfigKeySpec) throws(ConfigurationError) -> Double? {
        guard let text = raw(spec)?.trimmingCharacters(in: .whitespaces) else { return nil }
        guard case .number(let range) = spec.kind else { preconditionFailure("\(spec.key) is not declared as a number") }
        guard let value = Double(text), value.isFinite, range.contains(value) else { throw invalid(spec, text) }
        return value
    }

    public func flag(_ spec: ConfigKeySpec) throws(ConfigurationError) -> Bool? {
        guard let text = raw(spec)?.trimmingCharacters(in: .whitespaces) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw invalid(spec, text)
        }
    }

    /// A list: an array of text in a file, or comma-separated text anywhere.
    public func list(_ spec: ConfigKeySpec) -> [String]? {
        let key = relativeKey(spec)
        if let array = reader.stringArray(forKey: key) {
            return array.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return raw(spec).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }
}
