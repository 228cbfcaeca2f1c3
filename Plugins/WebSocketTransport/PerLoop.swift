import NIOCore
import Synchronization

/// One `Value` per event loop and setting (a delay, an interval), made on first use on that loop
/// and kept for the process's life: event loops live as long. The loop-confined helpers that
/// connections share (``LoopEncodings``, ``PingSchedule``, ``DeferredDrains``) each keep their
/// instances in one of these.
///
/// Ownership: the table is behind its lock; each value is bound to its loop and only handed out
/// on it.
final class PerLoop<Value>: Sendable {
    private struct Key: Hashable {
        var loop: ObjectIdentifier
        var setting: Int64
    }
    private let values = Mutex<[Key: NIOLoopBound<Value>]>([:])

    /// The value of `loop` for `setting`, made with `make` the first time; call on `loop`.
    func value(on loop: any EventLoop, setting: Int64 = 0, make: () -> Value) -> Value {
        values.withLock { values in
            let key = Key(loop: ObjectIdentifier(loop), setting: setting)
            if let found = values[key] { return found.value }
            let made = NIOLoopBound(make(), eventLoop: loop)
            values[key] = made
            return made.value
        }
    }
}
