/// One configuration key, declared once: its name, what values it takes, its default, one line of
/// documentation and the component that reads it. `tether serve --help`, `tether config show`,
/// docs/CONFIGURATION.md and start-up validation are all made from these declarations; a key that
/// is not declared is refused at start-up.
///
/// A plugin declares its keys relative to its slice (`synchronous` for `store.sqlite.synchronous`);
/// ``scoped(under:)`` gives them their full name.
public struct ConfigKeySpec: Sendable, Hashable {
    /// What a key's value may be.
    public enum Kind: Sendable, Hashable {
        /// Any text (a path, an address, a URL).
        case text
        /// A whole number within the range.
        case integer(ClosedRange<Int>)
        /// A number (fractions allowed) within the range.
        case number(ClosedRange<Double>)
        /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
        case flag
        /// One of these words.
        case choice([String])
        /// A JSON/YAML array of text, or comma-separated text.
        case list
    }

    public var key: String
    public var kind: Kind
    /// The default as the docs show it ("300", "all compiled in", "none").
    public var defaultValue: String
    public var doc: String
    /// Who reads it: `core`, `server`, or a plugin's `<kind> <name>` (e.g. `store sqlite`).
    public var component: String
    /// Shown masked by `tether config show` (tokens, URLs that may hold passwords).
    public var isSecret: Bool

    public init(_ key: String, _ kind: Kind, default defaultValue: String, _ doc: String, component: String = "core", secret: Bool = false) {
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.doc = doc
        self.component = component
        self.isSecret = secret
    }

    /// The same declaration under a plugin's slice: `synchronous` becomes `store.sqlite.synchronous`,
    /// read by `store sqlite`.
    public func scoped(under kind: String, _ name: String) -> ConfigKeySpec {
        var spec = self
        spec.key = "\(kind).\(name).\(key)"
        spec.component = "\(kind) \(name)"
        return spec
    }

    /// The environment variable that sets this key: `retention.max-events` is
    /// `TETHER_RETENTION_MAX_EVENTS`.
    public var environmentName: String {
        Self.environmentName(key)
    }

    public static func environmentName(_ key: String) -> String {
        "TETHER_" + String(key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 })
    }

    /// What values are allowed, in words, for errors and docs.
    public var allowed: String {
        switch kind {
        case .text: "text"
        case .integer(let range): "a whole number from \(range.lowerBound) to \(Self.show(range.upperBound))"
        case .number(let range): "a number from \(Self.show(range.lowerBound)) to \(Self.show(range.upperBound))"
        case .flag: "true or false"
        case .choice(let words): words.count == 2 ? "\(words[0]) or \(words[1])" : "one of \(words.joined(separator: ", "))"
        case .list: "a list (comma-separated, or an array in the file)"
        }
    }

    static func show(_ value: Int) -> String { value == Int.max ? "any size" : String(value) }

    /// A number as an operator writes it: `300`, not `300.0`.
    public static func show(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// A configuration value was missing, malformed, out of range or not a known key. The message
/// names the key, the value, where it came from and what is allowed; `tether` prints it and exits
/// with status 2.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
