public import Logging

/// Wraps a line-oriented handler (stderr text) so that one log call is one line, whatever it
/// carries: control characters and line breaks in the message and in metadata values (a client
/// id, a topic, an error text quoting input) are written as `\n`, `\u{1b}` and so on, so input can
/// never forge a log line. The journal needs no such wrapper: its fields are length-delimited.
public struct SingleLineLogHandler<Wrapped: LogHandler>: LogHandler {
    public var wrapped: Wrapped

    public init(_ wrapped: Wrapped) {
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue.mapValues(Self.escaped) }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map(Self.escaped) }
    }

    public func log(event: LogEvent) {
        var event = event
        let message = "\(event.message)"
        if Self.needsEscaping(message) { event.message = "\(Self.escaped(message))" }
        if let metadata = event.metadata { event.metadata = metadata.mapValues(Self.escaped) }
        wrapped.log(event: event)
    }

    static func needsEscaping(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isBreaking)
    }

    static func escaped(_ text: String) -> String {
        guard needsEscaping(text) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if isBreaking(scalar) {
                result += scalar.escaped(asASCII: true)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func escaped(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(escaped(text))
        case .stringConvertible(let convertible): .string(escaped(convertible.description))
        case .array(let values): .array(values.map(escaped))
        case .dictionary(let values): .dictionary(values.mapValues(escaped))
        }
    }

    private static func isBreaking(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
