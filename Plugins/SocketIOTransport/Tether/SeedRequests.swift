import TetherCore
import struct Foundation.Date

/// Answers the events a seed dashboard sends: `ping` → `pong`, `heartbeat` →
/// `heartbeat_response`, `acknowledge_event` → `ack_confirmed`, `request_replay` →
/// `event_replay`, `get_connection_stats` → `connection_stats`.
///
/// A request sent with a Socket.IO acknowledgement callback is answered through the callback
/// instead of the named event. Unknown events are ignored (an ack callback gets an error).
struct SeedRequests: Sendable {
    let relay: Relay
    let session: Session
    let socket: SocketIOSocket

    func answer(_ event: SocketIOEvent) async {
        let reply: (name: String, body: [UInt8])?
        switch event.name {
        case "ping": reply = ("pong", timed(event, extra: nil))
        case "heartbeat": reply = ("heartbeat_response", timed(event) { w in
            w.raw(",\"client_id\":")
            w.string(session.clientID)
            w.raw(",\"sequence\":")
            w.number(relay.logState.head)
        })
        case "acknowledge_event": reply = ("ack_confirmed", acknowledge(event))
        case "request_replay": reply = ("event_replay", await replay(event))
        case "get_connection_stats": reply = ("connection_stats", stats())
        default: reply = nil
        }
        do {
            if let ackID = event.ackID {
                let body = reply?.body ?? Array("{\"error\":{\"code\":\"unknown_event\",\"message\":\"this relay does not answer that event\"}}".utf8)
                try await socket.acknowledge(ackID, [body])
            } else if let reply {
                try await socket.emit(reply.name, [reply.body])
            }
        } catch {
            // The connection closed; the session ends with it.
        }
    }

    /// `{"timestamp": <the client's timestamp>, "server_time": "..."}` plus `extra` members.
    private func timed(_ event: SocketIOEvent, extra: ((inout JSONWriter) -> Void)?) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"timestamp\":")
        w.raw(member("timestamp", of: event) ?? event.arguments.first ?? Array("null".utf8))
        w.raw(",\"server_time\":")
        w.timestamp(Date())
        extra?(&w)
        w.raw("}")
        return w.bytes
    }

    private func acknowledge(_ event: SocketIOEvent) -> [UInt8] {
        var w = JSONWriter()
        let seq: UInt64
        do throws(RelayError) {
            guard let number = try Self.number("sequence", in: event.arguments) else {
                throw RelayError(.malformed, "acknowledge_event needs {\"sequence\": N}, N \(ClientSequence.rule)")
            }
            seq = number
        } catch {
            return Self.refusal(error, prefix: "{")
        }
        w.raw("{\"sequence\":")
        w.number(seq)
        do {
            try session.ack(seq)
            w.raw(",\"ok\":true}")
        } catch {
            w.raw(",\"ok\":false,\"error\":")
            w.error(code: error.code, message: error.message)
            w.raw("}")
        }
        return w.bytes
    }

    /// Retained events after `last_sequence` (or `from_sequence - 1`), up to the lag cap, read
    /// beside the session's cursor (which it does not move).
    private func replay(_ event: SocketIOEvent) async -> [UInt8] {
        let limit = relay.configuration.lagCap
        do throws(RelayError) {
            var after = try Self.number("last_sequence", in: event.arguments)
            if after == nil { after = try Self.number("from_sequence", in: event.arguments).map { $0 > 0 ? $0 - 1 : 0 } }
            let position = after ?? 0
            let (log, events) = try await relay.events(after: position, limit: limit)
            return SeedEvents.batch(events) { w in
                w.raw(",\"from_sequence\":")
                w.number(position + 1)
                w.raw(",\"to_sequence\":")
                w.number(events.last?.seq ?? position)
                w.raw(",\"head\":")
                w.number(log.head)
                w.raw(",\"epoch\":")
                w.string(log.epoch.rawValue)
                if position + 1 < log.oldest, position < log.head {
                    w.raw(",\"gap\":")
                    SeedEvents.gap(Gap(from: position + 1, to: min(log.oldest - 1, log.head), reason: log.trims.reason(for: log.oldest - 1) ?? .evicted), into: &w)
                }
            }
        } catch {
            return Self.refusal(error, prefix: "{\"events\":[],\"count\":0,")
        }
    }

    /// `prefix` then `"error":{"code","message"}}`: a refused request's answer.
    private static func refusal(_ error: RelayError, prefix: StaticString) -> [UInt8] {
        var w = JSONWriter()
        w.raw(prefix)
        w.raw("\"error\":")
        w.error(code: error.code, message: error.message)
        w.raw("}")
        return w.bytes
    }

    private func stats() -> [UInt8] {
        (try? relay.stats().jsonBytes()) ?? Array("{}".utf8)
    }

    /// The JSON of member `key` of the event's first argument, when that is an object.
    private func member(_ key: String, of event: SocketIOEvent) -> [UInt8]? {
        Self.member(key, of: event.arguments)
    }

    private static func member(_ key: String, of arguments: [[UInt8]]) -> [UInt8]? {
        guard let first = arguments.first, first.first == UInt8(ascii: "{"),
            let members = try? JSONScanner().members(ofObject: first, in: first.indices)
        else { return nil }
        return members.first { $0.key == key }.map { Array(first[$0.value]) }
    }

    /// Member `key` of the first argument (or the first argument itself when it is not an
    /// object) as ``ClientSequence/parse(json:)`` reads it, also from a numeric string as
    /// `auth.last_sequence` is; `nil` when absent or `null`.
    ///
    /// - Throws: `malformed`, naming ``ClientSequence/rule``, for any other value: a request that
    ///   names a position it cannot have is refused, not answered from another position.
    static func number(_ key: String, in arguments: [[UInt8]]) throws(RelayError) -> UInt64? {
        guard let bytes = member(key, of: arguments) ?? arguments.first.flatMap({ $0.first == UInt8(ascii: "{") ? nil : $0 }) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        if text == "null" { return nil }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        guard let value = ClientSequence.parse(json: text) else {
            throw RelayError(.malformed, "\(key) must be \(ClientSequence.rule), not \(text.prefix(40))")
        }
        return value
    }
}
