/// The one rule for names that clients and producers choose: client ids, resume tokens, topics,
/// producer ids. Every transport applies it (the relay checks each ``Hello`` itself), so no
/// transport can let through a name another refuses.
///
/// A name is 1 to ``maxBytes`` bytes of UTF-8 with no control characters (C0, DEL, C1) and no
/// line or paragraph separators: it can be printed in a log line, a header, a journal field or
/// a table cell without starting a new line or forging one.
public enum NameRule {
    /// The longest name, in UTF-8 bytes (`limits.max-name-bytes` may lower it for events).
    public static let maxBytes = 256

    /// What a refusal says a name must be.
    public static func rule(maxBytes: Int = maxBytes) -> String {
        "1 to \(maxBytes) bytes of UTF-8 without control characters or line breaks"
    }

    public static func isValid(_ text: some StringProtocol, maxBytes: Int = maxBytes) -> Bool {
        let length = text.utf8.count
        guard length > 0, length <= maxBytes else { return false }
        return !text.unicodeScalars.contains { scalar in
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: true
            default: false
            }
        }
    }

    /// `text`, or a ``RelayError`` with `code` saying which `field` breaks the rule.
    @discardableResult
    public static func check(_ text: String, field: String, code: RelayError.Code, maxBytes: Int = maxBytes) throws(RelayError) -> String {
        guard isValid(text, maxBytes: maxBytes) else {
            throw RelayError(code, "\(field) must be \(rule(maxBytes: maxBytes)) (got \(text.utf8.count) bytes)")
        }
        return text
    }
}
