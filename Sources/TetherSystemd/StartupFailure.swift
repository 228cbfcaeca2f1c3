/// The errno behind a start-up error, for `ERRNO=` (systemd shows it as the service's errno).
public enum StartupFailure {
    /// The errno carried by `error`, if it carries one: a `POSIXError`-like error or NIO's
    /// `IOError` (which keeps its code in a package-level field; reflection reads it without making
    /// this module depend on NIO). Looks at most three levels deep.
    public static func errno(of error: any Error) -> Int32? {
        find(in: error, depth: 0)
    }

    private static func find(in value: Any, depth: Int) -> Int32? {
        guard depth < 4 else { return nil }
        for child in Mirror(reflecting: value).children {
            if let label = child.label, ["errno", "errnoCode", "code"].contains(label), let code = child.value as? Int32, code > 0 {
                return code
            }
            if let code = find(in: child.value, depth: depth + 1) { return code }
        }
        return nil
    }
}
