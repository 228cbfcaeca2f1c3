import Hummingbird
import TetherRouting
import TetherCore
import struct Foundation.Date

/// The core HTTP surface: publish, poll, liveness and readiness.
struct EventRoutes {
    let relay: Relay
    let decoder: PublishRequestDecoder
    let readiness: Readiness

    func register(on router: TetherRouter) {
        router.post("/v1/events", use: publish)
        router.get("/v1/events", use: poll)
        router.get("/healthz", use: healthz)
        router.get("/readyz", use: readyz)
    }

    /// `POST /v1/events`: one object, an array, or NDJSON → `202 {"accepted": [seq, ...]}`.
    @Sendable func publish(_ request: Request, context: TetherRequestContext) async throws -> Response {
        try relay.gate.authorize(request.bearerToken, for: .produce)
        let format: PublishRequestDecoder.Format
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        switch mediaType {
        case "application/json", nil: format = .json
        case "application/x-ndjson", "application/ndjson", "application/jsonl": format = .ndjson
        case let other?:
            throw RelayError(.unsupportedMediaType, "Content-Type \(other) is not accepted; send application/json or application/x-ndjson")
        }
        var body = try await request.body.collect(upTo: decoder.limits.maxBodyBytes)
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        let drafts = try decoder.decode(bytes, format: format, now: Date())
        do {
            try relay.gate.admitPublish(events: drafts.count, address: context.remoteHost)
        } catch {
            throw RateLimitedError(error: error.error, retryAfter: error.retryAfter)
        }
        let sequences = try await relay.publish(drafts)
        var writer = JSONWriter(capacity: 16 + sequences.count * 8)
        writer.raw("{\"accepted\":[")
        for (index, seq) in sequences.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.number(seq)
        }
        writer.raw("]}\n")
        return .json(writer.bytes, status: .accepted)
    }

    /// `GET /v1/events?after=N&limit=K` → `{"epoch", "head", "oldest", "events": [...]}`.
    @Sendable func poll(_ request: Request, context: TetherRequestContext) async throws -> Response {
        try relay.gate.authorize(request.bearerToken, for: .subscribe)
        let query = request.uri.queryParameters
        let after = try Self.parameter(query, "after", default: 0, max: ClientSequence.max)
        let limit = try Self.parameter(query, "limit", default: 100, max: 10_000)
        let (log, events) = try await relay.events(after: after, limit: Int(limit))
        var writer = JSONWriter(capacity: 64 + events.reduce(0) { $0 + $1.data.count + 96 })
        writer.raw("{\"epoch\":")
        writer.string(log.epoch.rawValue)
        writer.raw(",\"head\":")
        writer.number(log.head)
        writer.raw(",\"oldest\":")
        writer.number(log.oldest)
        writer.raw(",\"events\":[")
        for (index, event) in events.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.event(event)
        }
        writer.raw("]}\n")
        return .json(writer.bytes)
    }

    static func parameter(_ query: Parameters, _ name: String, default value: UInt64, max: UInt64) throws(RelayError) -> UInt64 {
        guard let text = query[name[...]] else { return value }
        guard let parsed = ClientSequence.parse(text), parsed <= max else {
            throw RelayError(.malformed, "query parameter \(name)=\(text) is not a whole number from 0 to \(max)")
        }
        return parsed
    }

    /// `GET /healthz`: the process answers and the health monitor has proved the core recently.
    @Sendable func healthz(_ request: Request, context: TetherRequestContext) async throws -> Response {
        let status = relay.healthStatus
        let limit = max(3 * relay.configuration.sweepInterval, 10)
        let age = status.lastProof.map { Date().timeIntervalSince($0) } ?? .infinity
        var writer = JSONWriter()
        if age <= limit {
            writer.raw("{\"status\":\"ok\",\"last_proof_age_seconds\":")
            writer.number(Int(age.rounded()))
            writer.raw("}\n")
            return .json(writer.bytes)
        }
        writer.raw("{\"status\":\"unhealthy\",\"reason\":")
        writer.string("no successful health sweep for \(age.isFinite ? "\(Int(age)) s" : "ever"): \(status.lastError ?? "the core did not answer")")
        writer.raw("}\n")
        return .json(writer.bytes, status: .serviceUnavailable)
    }

    /// `GET /readyz`: listeners are up and the store accepts writes.
    @Sendable func readyz(_ request: Request, context: TetherRequestContext) async throws -> Response {
        var writer = JSONWriter()
        if !readiness.isReady {
            writer.raw("{\"ready\":false,\"reason\":\"starting up\"}\n")
            return .json(writer.bytes, status: .serviceUnavailable)
        }
        if let error = relay.healthStatus.lastError {
            writer.raw("{\"ready\":false,\"reason\":")
            writer.string(error)
            writer.raw("}\n")
            return .json(writer.bytes, status: .serviceUnavailable)
        }
        let log = relay.logState
        writer.raw("{\"ready\":true,\"epoch\":")
        writer.string(log.epoch.rawValue)
        writer.raw(",\"head\":")
        writer.number(log.head)
        writer.raw("}\n")
        return .json(writer.bytes)
    }
}
