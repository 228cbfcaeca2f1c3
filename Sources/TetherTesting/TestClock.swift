public import struct Foundation.Date
import Synchronization

/// A settable clock for the relay's `now`, so tests move time instead of sleeping.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// The closure to hand `Relay(now:)`.
    public var source: @Sendable () -> Date { { self.now } }
}
