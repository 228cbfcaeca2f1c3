import CSystemd
import Glibc

/// Sends service state to the service manager over the `sd_notify` protocol (a datagram to
/// `$NOTIFY_SOCKET`). Without `NOTIFY_SOCKET` every call is a no-op, so the relay behaves the same
/// under systemd and outside it.
///
/// The messages Tether sends, and when:
/// - `READY=1` once the listeners are bound and the store is open (``ready(status:)``);
/// - `STATUS=…` a one-line summary, refreshed every few seconds (``status(_:)``);
/// - `RELOADING=1` with `MONOTONIC_USEC=` when a SIGHUP reload starts, then `READY=1` again;
/// - `STOPPING=1` when graceful shutdown starts;
/// - `ERRNO=` and `STATUS=` when start-up fails (``startupFailed(errno:status:)``);
/// - `WATCHDOG=1` from the ``Watchdog`` only.
///
/// Stateless and `Sendable`: `sd_notify` opens, sends and closes its own socket per call.
public struct SystemdNotifier: Sendable {
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public let isEnabled: Bool

    public init(environment: [String: String]) {
        isEnabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
    }

    /// Sends `state` (newline-separated `KEY=value` assignments). Returns whether it was sent;
    /// a failure to notify never stops the relay.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard isEnabled else { return false }
        return sd_notify(0, state) > 0
    }

    public func ready(status: String? = nil) {
        send(["READY=1", status.map { "STATUS=" + Self.oneLine($0) }].compactMap { $0 }.joined(separator: "\n"))
    }

    public func status(_ text: String) {
        send("STATUS=" + Self.oneLine(text))
    }

    /// `RELOADING=1` with the current `CLOCK_MONOTONIC` time, as `Type=notify-reload` requires.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())\nSTATUS=reloading configuration")
    }

    public func stopping() {
        send("STOPPING=1\nSTATUS=shutting down")
    }

    public func watchdog() -> Bool {
        send("WATCHDOG=1")
    }

    /// Tells the manager why start-up failed: `ERRNO=` (an errno value, when one applies) and the
    /// message as `STATUS=`. `systemctl status` shows both.
    public func startupFailed(errno code: Int32?, status: String) {
        var lines = ["STATUS=start-up failed: " + Self.oneLine(status)]
        if let code { lines.append("ERRNO=\(code)") }
        send(lines.joined(separator: "\n"))
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 }.prefix(400))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
