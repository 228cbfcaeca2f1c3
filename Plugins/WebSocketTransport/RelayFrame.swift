import TetherCore

/// The frames the relay sends, encoded straight to JSON bytes (`docs/PROTOCOL.md`). Events carry
/// the producer's `data` bytes spliced in, never re-encoded.
enum RelayFrame {
    /// `settings`: the relay's configuration, for the fields a client must agree with (the
    /// stale timeout and the quality score's spans, docs/PROTOCOL.md).
    static func welcome(_ welcome: Welcome, presentedToken: String?, settings: RelayConfiguration, pingInterval: Duration) -> [UInt8] {
        var json = JSONWriter(capacity: 384)
        let plan = welcome.plan
        json.raw("{\"type\":\"welcome\",\"client_id\":")
        json.string(welcome.clientID)
        json.raw(",\"resume_token\":")
        json.string(welcome.resumeToken ?? presentedToken ?? "")
        json.raw(",\"epoch\":")
        json.string(welcome.epoch.rawValue)
        json.raw(",\"head\":")
        json.number(plan.head)
        json.raw(",\"resumed\":")
        json.raw(welcome.resumed ? "true" : "false")
        json.raw(",\"window\":")
        json.number(settings.window)
        json.raw(",\"ping_interval_ms\":")
        json.number(Int(pingInterval.components.seconds * 1000 + pingInterval.components.attoseconds / 1_000_000_000_000_000))
        json.raw(",\"stale_timeout_ms\":")
        json.number(Int((settings.staleTimeout * 1000).rounded()))
        json.raw(",\"ack_timeout_ms\":")
        json.number(Int((settings.ackTimeout * 1000).rounded()))
        json.raw(",\"reconnect_window_ms\":")
        json.number(Int((settings.reconnectWindow * 1000).rounded()))
        json.raw(",\"replay\":{\"from\":")
        json.number(plan.startAfter + 1)
        json.raw(",\"to\":")
        json.number(plan.head)
        json.raw(",\"count\":")
        json.number(welcome.replayCount)
        json.raw(",\"gap\":")
        if let gap = plan.gap { json.gap(gap) } else { json.raw("null") }
        json.raw(",\"reset\":")
        json.raw(plan.reset ? "true" : "false")
        json.raw("}}")
        return json.bytes
    }

    /// `{"type":"gap","from":x,"to":y,"reason":"lag_cap"}`: skipped during live delivery.
    static func gap(_ gap: Gap) -> [UInt8] {
        var json = JSONWriter(capacity: 96)
        json.raw("{\"type\":\"gap\",")
        json.gapFields(gap)
        json.raw("}")
        return json.bytes
    }


    static func ping(id: UInt64) -> [UInt8] {
        var json = JSONWriter(capacity: 40)
        json.raw("{\"type\":\"ping\",\"id\":")
        json.number(id)
        json.raw("}")
        return json.bytes
    }

    static func pong(id: [UInt8]) -> [UInt8] {
        var json = JSONWriter(capacity: 32 + id.count)
        json.raw("{\"type\":\"pong\",\"id\":")
        json.raw(id)
        json.raw("}")
        return json.bytes
    }

    /// `{"type":"echo","id":…,"data":…}`: the client's `id` and `data` bytes, unchanged.
    static func echo(id: [UInt8], data: [UInt8]) -> [UInt8] {
        var json = JSONWriter(capacity: 40 + id.count + data.count)
        json.raw("{\"type\":\"echo\",\"id\":")
        json.raw(id)
        json.raw(",\"data\":")
        json.raw(data)
        json.raw("}")
        return json.bytes
    }

    static func published(id: String?, seq: UInt64) -> [UInt8] {
        var json = JSONWriter(capacity: 64)
        json.raw("{\"type\":\"published\",\"id\":")
        if let id { json.string(id) } else { json.raw("null") }
        json.raw(",\"seq\":")
        json.number(seq)
        json.raw("}")
        return json.bytes
    }

    static func stats(_ data: [UInt8]) -> [UInt8] {
        var json = JSONWriter(capacity: 32 + data.count)
        json.raw("{\"type\":\"stats\",\"data\":")
        json.raw(data)
        json.raw("}")
        return json.bytes
    }

    /// `{"type":"error","code":"...","message":"..."}`, plus the publish `id` it answers and the
    /// close code that follows, when there is one.
    static func error(_ error: RelayError, id: String? = nil, close: WebSocketCloseCode? = nil) -> [UInt8] {
        var json = JSONWriter(capacity: 128 + error.message.utf8.count)
        json.raw("{\"type\":\"error\",\"code\":")
        json.string(error.code.rawValue)
        json.raw(",\"message\":")
        json.string(error.message)
        if let id {
            json.raw(",\"id\":")
            json.string(id)
        }
        if let close {
            json.raw(",\"close\":")
            json.number(Int(close.code))
        }
        json.raw("}")
        return json.bytes
    }
}
