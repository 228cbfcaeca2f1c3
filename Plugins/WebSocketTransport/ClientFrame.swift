import TetherCore

/// One inbound text frame, parsed: what the client asked for.
///
/// Parsing validates the whole frame (strict JSON, UTF-8, the relay's depth limit) before looking
/// at any member, so a frame is either understood completely or refused with a `RelayError`.
enum ClientFrame: Sendable {
    /// `batch`: the client reads `events` frames (several events in one frame).
    case hello(Hello, batch: Bool)
    case ack(UInt64)
    /// A ping or pong with its `id` as the client sent it (raw JSON, echoed back unchanged).
    case ping(id: [UInt8])
    case pong(id: [UInt8])
    /// An echo request: `id` and `data` as the client sent them (raw JSON), answered unchanged
    /// and nothing else (not stored, not fanned out): the dashboard's side-effect-free
    /// throughput test.
    case echo(id: [UInt8], data: [UInt8])
    /// A publish; the frame itself is the event envelope (`topic`, `data`, `id`), whose members
    /// are handed on as scanned, so the envelope is not parsed a second time.
    case publish(producerID: String?, members: [(key: String, value: Range<Int>)])
    case stats
    case unknown(type: String)

    /// Parses `bytes`.
    ///
    /// - Throws: `malformed` for anything that is not a JSON object with a string `type`;
    ///   `invalid_hello` / `malformed` for known types with fields of the wrong type.
    static func parse(_ bytes: [UInt8], scanner: JSONScanner) throws(RelayError) -> ClientFrame {
        let members: [(key: String, value: Range<Int>)]
        do {
            let document = try scanner.validateDocument(bytes, in: bytes.indices)
            guard bytes[document.lowerBound] == UInt8(ascii: "{") else {
                throw RelayError(.malformed, "a frame must be a JSON object with a \"type\", like {\"type\":\"hello\"}")
            }
            members = try scanner.members(ofObject: bytes, in: document)
        } catch let error as JSONSyntaxError {
            throw RelayError(.malformed, "the frame is not valid JSON (\(error)); send one JSON object per text frame")
        } catch let error as RelayError {
            throw error
        } catch {
            throw RelayError(.malformed, "the frame is not valid JSON")
        }
        let fields = Fields(bytes: bytes, members: members)
        guard let type = try fields.string("type", code: .malformed) else {
            throw RelayError(.malformed, "the frame has no \"type\" string; see docs/PROTOCOL.md for the frame types")
        }
        switch type {
        case "hello":
            var hello = Hello()
            hello.clientID = try fields.name("client_id", code: .invalidHello)
            hello.resumeToken = try fields.name("resume_token", code: .invalidHello)
            hello.epoch = try fields.name("epoch", code: .invalidHello).map(Epoch.init(rawValue:))
            hello.lastSequence = try fields.unsigned("last_sequence", code: .invalidHello)
            hello.history = try fields.unsigned("history", code: .invalidHello).map { Int(clamping: $0) }
            hello.topics = try fields.strings("topics", code: .invalidHello)
            hello.ephemeral = try fields.bool("ephemeral", code: .invalidHello) ?? false
            return .hello(hello, batch: try fields.bool("batch", code: .invalidHello) ?? false)
        case "ack":
            guard let seq = try fields.unsigned("seq", code: .malformed) else {
                throw RelayError(.malformed, "an ack needs \"seq\": the newest sequence processed, like {\"type\":\"ack\",\"seq\":42}")
            }
            return .ack(seq)
        case "ping": return .ping(id: fields.raw("id") ?? Array("null".utf8))
        case "pong": return .pong(id: fields.raw("id") ?? Array("null".utf8))
        case "echo": return .echo(id: fields.raw("id") ?? Array("null".utf8), data: fields.raw("data") ?? Array("null".utf8))
        case "publish": return .publish(producerID: try? fields.string("id", code: .invalidEvent), members: members)
        case "stats": return .stats
        default: return .unknown(type: type)
        }
    }

    /// Typed access to a frame's members. `null` counts as absent.
    private struct Fields {
        let bytes: [UInt8]
        let members: [(key: String, value: Range<Int>)]

        func raw(_ key: String) -> [UInt8]? {
            guard let range = value(key) else { return nil }
            return Array(bytes[range])
        }

        private func value(_ key: String) -> Range<Int>? {
            guard let range = members.last(where: { $0.key == key })?.value else { return nil }
            return bytes[range].elementsEqual("null".utf8) ? nil : range
        }

        func string(_ key: String, code: RelayError.Code) throws(RelayError) -> String? {
            guard let range = value(key) else { return nil }
            guard bytes[range.lowerBound] == UInt8(ascii: "\"") else {
                throw RelayError(code, "\"\(key)\" must be a string")
            }
            do {
                return try JSONScanner.decodeString(bytes, quoted: range)
            } catch {
                throw RelayError(code, "\"\(key)\" is not a readable string: \(error)")
            }
        }

        /// A client id, token or epoch: the relay's ``NameRule``.
        func name(_ key: String, code: RelayError.Code) throws(RelayError) -> String? {
            guard let text = try string(key, code: code) else { return nil }
            return try NameRule.check(text, field: "\"\(key)\"", code: code)
        }

        func bool(_ key: String, code: RelayError.Code) throws(RelayError) -> Bool? {
            guard let range = value(key) else { return nil }
            if bytes[range].elementsEqual("true".utf8) { return true }
            if bytes[range].elementsEqual("false".utf8) { return false }
            throw RelayError(code, "\"\(key)\" must be true or false")
        }

        func unsigned(_ key: String, code: RelayError.Code) throws(RelayError) -> UInt64? {
            guard let range = value(key) else { return nil }
            guard let number = ClientSequence.parse(digits: bytes[range]) else {
                throw RelayError(code, "\"\(key)\" must be \(ClientSequence.rule)")
            }
            return number
        }

        func strings(_ key: String, code: RelayError.Code) throws(RelayError) -> [String]? {
            guard let range = value(key) else { return nil }
            let scanner = JSONScanner(maxDepth: 2)
            let elements: [Range<Int>]
            do {
                elements = try scanner.elements(ofArray: bytes, in: range)
            } catch {
                throw RelayError(code, "\"\(key)\" must be an array of strings")
            }
            var result: [String] = []
            for element in elements {
                guard bytes[element.lowerBound] == UInt8(ascii: "\""), let text = try? JSONScanner.decodeString(bytes, quoted: element), !text.isEmpty else {
                    throw RelayError(code, "\"\(key)\" must be an array of non-empty strings")
                }
                result.append(text)
            }
            return result
        }
    }
}
