import TetherCore

/// What a Socket.IO client's CONNECT `auth` asks of the relay, turned into a ``Hello``.
///
/// Three kinds of client arrive here (docs/SOCKETIO.md):
/// - seed dashboards send `{client_id, last_sequence}`; `last_sequence > 0` resumes and the
///   missed events come as one `event_replay`;
/// - stock socket.io clients recovering a connection send `{pid, offset}` (connection-state
///   recovery): `pid` names the client and carries its resume secret, `offset` is the
///   `<epoch>:<seq>` of the last event received, and the missed events come as ordinary
///   `claude_event`s;
/// - anyone else starts fresh with the newest `history` events as `event_history`.
/// Tether extensions: `resume_token`, `epoch`, `history`, `topics`.
struct TetherAuth: Sendable, Hashable {
    enum Mode: Sendable, Hashable {
        /// `last_sequence > 0`: missed events as one `event_replay`.
        case seedResume
        /// `pid` and `offset`: missed events as `claude_event`s, as a stock server replays them.
        case recovery
        /// Newest `history` events as `event_history`, then live.
        case fresh
    }

    var hello: Hello
    var mode: Mode
    /// The `pid` the client presented (stock recovery), verbatim.
    var pid: String?
    /// The subscriber bearer token (`token`), for relays that require one (docs/SECURITY.md).
    var accessToken: String?

    /// Parses `auth` (a JSON object, already validated as JSON by the packet decoder).
    ///
    /// - Throws: ``RelayError/Code/malformed`` naming the member that has the wrong type.
    init(_ auth: [UInt8], defaultHistory: Int) throws(RelayError) {
        hello = Hello()
        mode = .fresh
        var offset: String?
        var lastSequence: UInt64?
        let scanner = JSONScanner()
        let members: [(key: String, value: Range<Int>)]
        do {
            let value = try scanner.validateDocument(auth, in: auth.indices)
            members = try scanner.members(ofObject: auth, in: value)
        } catch {
            throw RelayError(.malformed, "auth must be a JSON object like {\"client_id\": \"...\", \"last_sequence\": 0}")
        }
        for (key, range) in members {
            switch key {
            case "client_id": hello.clientID = try Self.string(auth, range, key)
            case "resume_token": hello.resumeToken = try Self.string(auth, range, key)
            case "epoch": hello.epoch = try Self.string(auth, range, key).map { Epoch(rawValue: $0) }
            case "last_sequence": lastSequence = try Self.number(auth, range, key)
            case "history": hello.history = try Self.number(auth, range, key).map { Int(clamping: $0) }
            case "topics": hello.topics = try Self.topics(auth, range)
            case "pid": pid = try Self.string(auth, range, key)
            case "token": accessToken = try Self.string(auth, range, key)
            case "offset": offset = try Self.string(auth, range, key)
            default: continue  // clients may send their own fields
            }
        }
        if let pid, let parts = Self.split(pid: pid), hello.clientID == nil || hello.clientID == parts.clientID {
            hello.clientID = parts.clientID
            if hello.resumeToken == nil { hello.resumeToken = parts.token }
        }
        if let last = lastSequence, last > 0 {
            hello.lastSequence = last
            mode = .seedResume
        } else if pid != nil, let offset, let position = Self.split(offset: offset) {
            hello.epoch = position.epoch
            hello.lastSequence = position.seq
            mode = .recovery
        } else if lastSequence == nil || lastSequence == 0 {
            if hello.history == nil { hello.history = defaultHistory }
        }
    }

    /// The private id a stock client keeps for recovery: `<client id>.<resume secret>`.
    static func pid(clientID: String, token: String) -> String { clientID + "." + token }

    static func split(pid: String) -> (clientID: String, token: String)? {
        guard let dot = pid.lastIndex(of: "."), dot != pid.startIndex else { return nil }
        let token = pid[pid.index(after: dot)...]
        guard !token.isEmpty else { return nil }
        return (String(pid[..<dot]), String(token))
    }

    /// The offset appended to each event for recovery: `<epoch>:<seq>`.
    static func offset(epoch: Epoch, seq: UInt64) -> String { epoch.rawValue + ":" + String(seq) }

    static func split(offset: String) -> (epoch: Epoch, seq: UInt64)? {
        guard let colon = offset.lastIndex(of: ":"), let seq = ClientSequence.parse(offset[offset.index(after: colon)...]) else { return nil }
        return (Epoch(rawValue: String(offset[..<colon])), seq)
    }

    private static func string(_ bytes: [UInt8], _ range: Range<Int>, _ key: String) throws(RelayError) -> String? {
        if bytes[range] == Array("null".utf8)[...] { return nil }
        guard bytes[range.lowerBound] == UInt8(ascii: "\""), let text = try? JSONScanner.decodeString(bytes, quoted: range) else {
            throw RelayError(.malformed, "auth.\(key) must be a string")
        }
        return text
    }

    /// A whole number, also accepted as a numeric string or a float with no fraction (browsers
    /// store `last_sequence` in localStorage as text).
    private static func number(_ bytes: [UInt8], _ range: Range<Int>, _ key: String) throws(RelayError) -> UInt64? {
        var text = String(decoding: bytes[range], as: UTF8.self)
        if text == "null" { return nil }
        if text.hasPrefix("\"") { text = String(text.dropFirst().dropLast()) }
        if let value = ClientSequence.parse(json: text) { return value }
        throw RelayError(.malformed, "auth.\(key) must be \(ClientSequence.rule), not \(text.prefix(40))")
    }

    private static func topics(_ bytes: [UInt8], _ range: Range<Int>) throws(RelayError) -> [String]? {
        if bytes[range.lowerBound] == UInt8(ascii: "\"") {
            return try string(bytes, range, "topics")?.split(separator: ",").map(String.init)
        }
        guard bytes[range.lowerBound] == UInt8(ascii: "["), let elements = try? JSONScanner().elements(ofArray: bytes, in: range) else {
            if bytes[range] == Array("null".utf8)[...] { return nil }
            throw RelayError(.malformed, "auth.topics must be an array of strings")
        }
        var topics: [String] = []
        for element in elements {
            guard let topic = try string(bytes, element, "topics[]") else { continue }
            topics.append(topic)
        }
        return topics
    }
}
