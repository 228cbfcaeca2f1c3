#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`). Every connection holds one,
/// so the soft limit bounds how many clients can be connected at once: past it `accept` fails
/// (see ``AcceptPauseHandler``).
public struct FileDescriptorLimit: Sendable, Equatable, CustomStringConvertible {
    public var soft: UInt64
    public var hard: UInt64

    /// Descriptors the relay keeps for itself besides connections: event loops, the store and
    /// its WAL, logs, the listener, files being read.
    public static let reserved: UInt64 = 64

    /// `RLIM_INFINITY` (all bits set; Swift cannot import the C macro's `-1` as unsigned).
    public static let unlimited = UInt64.max

    public var description: String { "\(Self.text(soft)) (hard \(Self.text(hard)))" }

    /// The current limit; `nil` if it cannot be read.
    public static func current() -> FileDescriptorLimit? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        return FileDescriptorLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one when it is lower (what systemd's `LimitNOFILE=` or a
    /// shell's `ulimit -n` left), as servers commonly do: the soft limit exists to protect old
    /// programs that use `select`, which this one does not. An unlimited hard limit is met with
    /// the kernel's `fs.nr_open`. Process-global: the executable calls it once, at start.
    ///
    /// - Returns: the limit before and after, or `nil` when it was already at the hard limit or
    ///   could not be changed.
    public static func raiseSoftToHard() -> (before: FileDescriptorLimit, after: FileDescriptorLimit)? {
        guard let before = current(), before.soft < before.hard else { return nil }
        var target = before.hard
        if target == Self.unlimited { target = kernelMaximum() ?? 1 << 20 }
        guard target > before.soft else { return nil }
        var limit = rlimit(rlim_cur: rlim_t(target), rlim_max: rlim_t(before.hard))
        guard setrlimit(resource, &limit) == 0, let after = current() else { return nil }
        return (before, after)
    }

    /// A warning when `maxConnections` (0 = no limit) cannot all be open at once under this
    /// limit; `nil` when they can.
    public func warning(maxConnections: Int) -> String? {
        let room = soft > Self.reserved ? soft - Self.reserved : 0
        guard maxConnections == 0 || UInt64(maxConnections) > room else { return nil }
        let wanted = maxConnections == 0 ? "no limit" : "\(maxConnections)"
        return "limits.max-connections is \(wanted) but the open-file limit is \(self), room for about \(room) connections; past it new connections wait in the listen backlog. Raise LimitNOFILE= (systemd) or ulimit -n, or lower limits.max-connections"
    }

    private static func text(_ value: UInt64) -> String {
        value == Self.unlimited ? "unlimited" : String(value)
    }

    /// `/proc/sys/fs/nr_open`: the most any process may have.
    private static func kernelMaximum() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
