public import TetherCore
import Foundation

/// The key table of docs/CONFIGURATION.md, made from the declarations (a test compares the two,
/// `tether config reference` prints it).
public enum ConfigReference {
    public static func markdown(_ keys: [ConfigKeySpec]) -> String {
        var lines = [
            "| key | environment variable | values | default | read by | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for spec in keys {
            let cells = [
                "`\(spec.key)`", "`\(spec.environmentName)`", spec.allowed, spec.defaultValue, spec.component, spec.doc + (spec.isSecret ? " (masked by `tether config show`)" : ""),
            ]
            lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
