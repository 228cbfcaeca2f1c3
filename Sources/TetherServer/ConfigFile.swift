import Foundation
public import TetherCore
import Yams

/// A config file's keys and the line each is on, read to check the file before the relay uses it:
/// a syntax error is reported with its line, and every key can be checked against the declared
/// ones. The values themselves are then read through swift-configuration's own file provider.
///
/// `.yaml`/`.yml` files are YAML; other files are JSON. Lines come from Yams' node marks, which
/// serve JSON files too (JSON is YAML's flow style).
public struct ConfigFile: Sendable {
    public enum Format: String, Sendable {
        case json = "JSON"
        case yaml = "YAML"
    }

    public var path: String
    public var format: Format
    /// Every leaf key (`retention.ttl`), with its 1-based line (0 when it could not be located).
    public var keys: [String: Int]

    /// Reads and parses `path`.
    ///
    /// - Throws: ``ConfigurationError`` naming the file, and the line and column of a syntax error.
    public init(path: String) throws(ConfigurationError) {
        self.path = path
        let lowered = path.lowercased()
        format = lowered.hasSuffix(".yaml") || lowered.hasSuffix(".yml") ? .yaml : .json
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? (error as? CocoaError).map { "\($0.code)" } ?? "\(error)"
            throw ConfigurationError("config file \(path) could not be read: \(Self.readFailure(path) ?? reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("config file \(path) is not UTF-8 text")
        }
        if format == .json {
            try Self.checkJSON(data, text: text, path: path)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            if format == .json {
                // Valid JSON that libyaml reads differently: check the keys without lines.
                keys = Self.flatten(json: (try? JSONSerialization.jsonObject(with: data)) ?? [:], prefix: "")
                return
            }
            throw ConfigurationError("config file \(path) is not valid YAML: \(Self.describe(error))")
        } catch {
            throw ConfigurationError("config file \(path) is not valid YAML: \(error)")
        }
        var keys: [String: Int] = [:]
        if let root {
            guard root.mapping != nil else {
                throw ConfigurationError("config file \(path) must hold a mapping of keys (for example {\"lag-cap\": 2000}), not a \(root.sequence != nil ? "list" : "single value")")
            }
            Self.flatten(root, prefix: "", into: &keys)
        }
        self.keys = keys
    }

    /// Why a file could not be opened, in words (missing, a directory, not readable).
    static func readFailure(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "it is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return nil
    }

    /// A JSON syntax error with its line and column instead of Foundation's error dump.
    static func checkJSON(_ data: Data, text: String, path: String) throws(ConfigurationError) {
        do {
            let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            guard object is [String: Any] else {
                throw ConfigurationError("config file \(path) must hold a JSON object of keys (for example {\"lag-cap\": 2000})")
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            if let index = (error as NSError).userInfo["NSJSONSerializationErrorIndex"] as? Int {
                let (line, column) = Self.position(of: index, in: data)
                throw ConfigurationError("config file \(path) is not valid JSON: line \(line), column \(column): \(detail)")
            }
            // Foundation puts the position in its message: "... around line 4, column 1." or
            // "Invalid value around character 34."
            if let found = detail.firstMatch(of: /line (\d+), column (\d+)/) {
                throw ConfigurationError("config file \(path) is not valid JSON: line \(found.1), column \(found.2): \(detail)")
            }
            if let found = detail.firstMatch(of: /character (\d+)/), let offset = Int(found.1) {
                let (line, column) = Self.position(of: offset, in: data)
                throw ConfigurationError("config file \(path) is not valid JSON: line \(line), column \(column): \(detail)")
            }
            throw ConfigurationError("config file \(path) is not valid JSON: \(detail)")
        }
    }

    static func position(of offset: Int, in data: Data) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        for byte in data.prefix(offset) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            "line \(mark.line), column \(mark.column): \(problem)"
        default:
            String(String(describing: error).prefix(while: { $0 != "\n" }))
        }
    }

    /// A key starting with `_` is a comment (JSON has no comment syntax; the packaged
    /// /etc/tether/tether.json explains itself in `_comment`): never checked, never read.
    public static func isComment(_ key: String) -> Bool { key.hasPrefix("_") }

    static func flatten(_ node: Node, prefix: String, into keys: inout [String: Int]) {
        guard let mapping = node.mapping else { return }
        for (key, value) in mapping where !isComment(key.string ?? "") {
            let name = prefix.isEmpty ? (key.string ?? "") : "\(prefix).\(key.string ?? "")"
            if value.mapping != nil {
                flatten(value, prefix: name, into: &keys)
            } else {
                keys[name] = key.mark?.line ?? 0
            }
        }
    }

    static func flatten(json: Any, prefix: String) -> [String: Int] {
        guard let object = json as? [String: Any] else { return [:] }
        var keys: [String: Int] = [:]
        for (key, value) in object where !isComment(key) {
            let name = prefix.isEmpty ? key : "\(prefix).\(key)"
            if value is [String: Any] {
                keys.merge(flatten(json: value, prefix: name)) { $1 }
            } else {
                keys[name] = 0
            }
        }
        return keys
    }
}
