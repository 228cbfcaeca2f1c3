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
        guard let seq = number("sequence", of: event) else {
            w.raw("{\"error\":{\"code\":\"malformed\",\"message\":\"acknowledge_event needs {\\\"sequence\\\": N}\"}}")
            return w.bytes
        }
        w.raw("{\"sequence\":")
        w.number(seq)
        do {
            try session.ack(seq)
            w.raw(",\"ok\":true}")
        } catch {
            w.raw(",\"ok\":false,\"error\":{\"code\":")
            w.string(error.code.rawValue)
            w.raw(",\"message\":")
            w.string(error.message)
            w.raw("}}")
        }
        return w.bytes
    }

    /// Retained events after `last_sequence` (or `from_sequence - 1`), up to the lag cap, read
    /// beside the session's cursor (which it does not move).
    private func replay(_ event: SocketIOEvent) async -> [UInt8] {
        let after = number("last_sequence", of: event) ?? number("from_sequence", of: event).map { $0 > 0 ? $0 - 1 : 0 } ?? 0
        let limit = relay.configuration.lagCap
        do {
            let (log, events) = try await relay.events(after: after, limit: limit)
            return SeedEvents.batch(events) { w in
                w.raw(",\"from_sequence\":")
                w.number(after + 1)
                w.raw(",\"to_sequence\":")
                w.number(events.last?.seq ?? after)
                w.raw(",\"head\":")
                w.number(log.head)
                w.raw(",\"epoch\":")
                w.string(log.epoch.rawValue)
                if after + 1 < log.oldest, after < log.head {
                    w.raw(",\"gap\":")
                    SeedEvents.gap(Gap(from: after + 1, to: min(log.oldest - 1, log.head), reason: log.trims.reason(for: log.oldest - 1) ?? .evicted), into: &w)
                }
            }
        } catch {
            var w = JSONWriter()
            w.raw("{\"events\":[],\"count\":0,\"error\":{\"code\":")
            w.string(error.code.rawValue)
            w.raw(",\"message\":")
            w.string(error.message)
            w.raw("}}")
            return w.bytes
        }
    }

    private func stats() -> [UInt8] {
        (try? relay.stats().jsonBytes()) ?? Array("{}".utf8)
    }

    /// The JSON of member `key` of the event's first argument, when that is an object.
    private func member(_ key: String, of event: SocketIOEvent) -> [UInt8]? {
        guard let first = event.arguments.first, first.first == UInt8(ascii: "{"),
            let members = try? JSONScanner().members(ofObject: first, in: first.indices)
        else { return nil }
        return members.first { $0.key == key }.map { Array(first[$0.value]) }
    }

    /// Member `key` as a whole number, or the first argument itself when it is a number.
    private func number(_ key: String, of event: SocketIOEvent) -> UInt64? {
        let bytes = member(key, of: event) ?? event.arguments.first.flatMap { $0.first == UInt8(ascii: "{") ? nil : $0 }
        guard let bytes else { return nil }
        return ClientSequence.parse(json: String(decoding: bytes, as: UTF8.self))
    }
}
