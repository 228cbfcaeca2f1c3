import Foundation

/// Finds real external programs (promtool, prometheus, curl, python) for tests; run them with
/// ``Command/run(_:_:environment:directory:input:timeout:)`` or ``ChildProcess``.
public enum ExternalTool {
    /// The path of `name` on `PATH`, or `nil`.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
