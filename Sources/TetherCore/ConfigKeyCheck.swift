/// Refuses keys that no component declares: a typo in the config file or in a `TETHER_*`
/// variable would otherwise be ignored and leave the default silently in force.
public enum ConfigKeyCheck {
    /// `TETHER_*` variables that are not configuration keys but that `tether` or its tooling
    /// reads: the config file's path, the client commands' URL and CA, the STATUS= period, the
    /// dashboard folder override, the test kit's binary and journal catalog (which reach a
    /// relay started under scripts/with-journald.sh), and the commit `make` hands to `swift` for
    /// the build info (`make test` runs the tests under it, so the relays they start inherit it).
    public static let otherVariables: Set<String> = [
        "TETHER_CONFIG", "TETHER_URL", "TETHER_CA_FILE", "TETHER_SYSTEMD_STATUS_INTERVAL", "TETHER_DASHBOARD_DIR", "TETHER_BIN",
        "TETHER_CATALOG", "TETHER_COMMIT",
    ]

    /// Every key set in the file (with its line) or the environment that `declared` does not
    /// name, as one error with a suggestion for each; nil when all are known.
    public static func unknownKeys(
        fileKeys: [String: Int], filePath: String?, environment: [String: String], declared: [ConfigKeySpec]
    ) -> ConfigurationError? {
        let known = Set(declared.map(\.key))
        var problems: [String] = []
        for (key, line) in fileKeys.sorted(by: { $0.value < $1.value }) where !known.contains(key) {
            let place = filePath.map { " in \($0):\(line)" } ?? ""
            let groups = known.filter { $0.hasPrefix(key + ".") }.sorted()
            if !groups.isEmpty {
                problems.append("\"\(key)\"\(place) is a group of keys (\(groups.prefix(4).joined(separator: ", "))\(groups.count > 4 ? ", ..." : "")), not a value")
                continue
            }
            let hint = suggestion(for: key, among: Array(known)).map { "; did you mean \"\($0)\"?" } ?? ""
            problems.append("unknown key \"\(key)\"\(place)\(hint)")
        }
        let variables = Set(declared.map(\.environmentName)).union(otherVariables)
        for name in environment.keys.sorted() where name.hasPrefix("TETHER_") && !variables.contains(name) {
            let hint = suggestion(for: name, among: Array(variables)).map { "; did you mean \($0)?" } ?? ""
            problems.append("unknown environment variable \(name)\(hint)")
        }
        guard !problems.isEmpty else { return nil }
        return ConfigurationError(problems.joined(separator: "; ") + " (`tether serve --help` lists every key)")
    }

    /// The closest name within a small edit distance (a third of the name, at least 2), if any.
    public static func suggestion(for name: String, among candidates: [String]) -> String? {
        let limit = max(2, name.count / 3)
        let scored = candidates.map { (candidate: $0, distance: distance(name.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { ($0.distance, $0.candidate) < ($1.distance, $1.candidate) }), best.distance <= limit else {
            return nil
        }
        return best.candidate
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions, so "tll" is
    /// one edit from "ttl"). Hand-written: the mirror's packages have no edit distance, and this
    /// runs once at start-up over a hundred short names.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
