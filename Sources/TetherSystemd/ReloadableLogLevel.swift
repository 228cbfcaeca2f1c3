public import Logging
import Synchronization

/// One log level shared by every logger of the process, so that a SIGHUP reload changes it
/// everywhere at once. Owned by its own `Mutex`.
public final class ReloadableLogLevel: Sendable {
    private let current: Mutex<Logger.Level>

    public init(_ level: Logger.Level) {
        current = Mutex(level)
    }

    public var level: Logger.Level {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// Wraps any handler so that its level is a ``ReloadableLogLevel`` (swift-log's own
/// `StreamLogHandler` keeps a private copy of the level in every `Logger`).
public struct ReloadableLevelLogHandler<Wrapped: LogHandler>: LogHandler {
    public var wrapped: Wrapped
    public let shared: ReloadableLogLevel
    /// A level this logger copy set for itself: it applies to this copy only. Setting it used to
    /// change the shared level, so one library quieting its own logger silenced the whole relay.
    private var override: Logger.Level?

    public init(_ wrapped: Wrapped, level: ReloadableLogLevel) {
        self.wrapped = wrapped
        self.shared = level
    }

    public var logLevel: Logger.Level {
        get { override ?? shared.level }
        set { override = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        wrapped.log(event: event)
    }
}
