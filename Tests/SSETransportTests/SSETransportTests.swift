import Foundation
import Testing
import TetherTesting

/// `GET /v1/stream` of the real relay, read by curl, a client nobody here wrote.
@Suite("SSE transport")
struct SSETransportTests {
    struct SSEEvent: Equatable {
        var id: String?
        var event: String?
        var data: String
    }

    /// Parses an event stream (the parts of the SSE spec the relay uses).
    static func parse(_ text: String) -> [SSEEvent] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var event = SSEEvent(id: nil, event: nil, data: "")
            var dataLines: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix(":") { continue }
                let parts = line.split(separator: ":", maxSplits: 1)
                let field = String(parts[0])
                var value = parts.count > 1 ? String(parts[1]) : ""
                if value.hasPrefix(" ") { value.removeFirst() }
                switch field {
                case "id": event.id = value
                case "event": event.event = value
                case "data": dataLines.append(value)
                default: continue
                }
            }
            event.data = dataLines.joined(separator: "\n")
            return event.id == nil && event.event == nil ? nil : event
        }
    }

    static func publish(_ relay: RelayProcess, _ count: Int, from start: Int = 0, topic: String = "t") async throws {
        let body = (start..<(start + count)).map { #"{"topic":"\#(topic)","data":{"n":\#($0)}}"# }.joined(separator: "\n")
        let response = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        #expect(response.status == 202)
    }

    static func epoch(_ relay: RelayProcess) async throws -> String {
        let ready = try await relay.http("GET", "/readyz")
        return try #require((try HTTP.json(ready.body) as? [String: Any])?["epoch"] as? String)
    }

    /// The state `/v1/stats` gives client `id` once it is `wanted`, or after 5 s of asking.
    static func clientState(_ relay: RelayProcess, _ id: String, becomes wanted: String) async throws -> String? {
        var state: String?
        let deadline = Date().addingTimeInterval(5)
        while state != wanted, Date() < deadline {
            let stats = try HTTP.json(try await relay.http("GET", "/v1/stats").body) as? [String: Any]
            state = (stats?["clients"] as? [[String: Any]])?.first { $0["id"] as? String == id }?["state"] as? String
            if state != wanted { try await Task.sleep(for: .milliseconds(50)) }
        }
        return state
    }

    static func curl(_ relay: RelayProcess, _ query: String = "", lastEventID: String? = nil) throws -> StreamingProcess {
        var arguments = ["-sN", "--max-time", "60", "\(relay.baseURL)/v1/stream\(query)"]
        if let lastEventID { arguments += ["-H", "Last-Event-ID: \(lastEventID)"] }
        return try StreamingProcess("curl", arguments)
    }

    @Test func resumeFromLastEventIDDeliversExactlyTheMissedEventsThenLive() async throws {
        let relay = try await RelayProcess.start()
        try await Self.publish(relay, 10)
        let epoch = try await Self.epoch(relay)
        let stream = try Self.curl(relay, lastEventID: "\(epoch):4")
        #expect(await stream.waitUntil { $0.contains("id: \(epoch):10\n") })
        try await Self.publish(relay, 1, from: 10)
        #expect(await stream.waitUntil { $0.contains("id: \(epoch):11\n") })
        await stream.stop()
        let events = Self.parse(stream.output)
        #expect(events.first?.event == "tether.welcome")
        let delivered = events.filter { $0.event == "t" }
        #expect(delivered.map(\.id) == (5...11).map { "\(epoch):\($0)" })
        #expect(delivered.map(\.data) == (4...10).map { #"{"n":\#($0)}"# })
        #expect(!events.contains { $0.event == "tether.gap" || $0.event == "tether.reset" })
        await relay.terminate()
    }

    /// An idle stream gets a `: heartbeat` comment every interval (a timer on the connection's
    /// event loop, no task per wait), still delivers what comes after them, and a clean stop of
    /// the relay ends it: curl sees the stream close and the relay exits 0.
    /// A resume from further back than the relay keeps in memory (8,192 events) is read from the
    /// store in pages, written in order and followed by live events, with no gap.
    @Test func aResumeFromBeyondTheMemoryWindowIsReadFromTheStore() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_LAG_CAP": "20000"])
        for batch in 0..<12 { try await Self.publish(relay, 1000, from: batch * 1000) }
        let epoch = try await Self.epoch(relay)
        let stream = try Self.curl(relay, lastEventID: "\(epoch):0")
        #expect(await stream.waitUntil(timeout: 60) { $0.contains("id: \(epoch):12000\n") })
        try await Self.publish(relay, 1, from: 12000)
        #expect(await stream.waitUntil { $0.contains("id: \(epoch):12001\n") })
        let events = Self.parse(stream.output)
        await stream.stop()
        #expect(events.filter { $0.event == "t" }.compactMap { $0.id } == (1...12001).map { "\(epoch):\($0)" })
        #expect(!events.contains { $0.event == "tether.gap" })
        await relay.terminate()
    }

    @Test func anIdleStreamGetsHeartbeatsAndACleanStopEndsIt() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_TRANSPORT_SSE_HEARTBEAT_INTERVAL": "1"])
        let stream = try Self.curl(relay)
        #expect(await stream.waitUntil { $0.components(separatedBy: ": heartbeat\n").count > 2 }, "no two heartbeats: \(stream.output)")
        try await Self.publish(relay, 1)
        #expect(await stream.waitUntil { Self.parse($0).contains { $0.event == "t" } })
        // The stream must end when shutdown starts, not when the 10 s grace runs out and the
        // relay cancels what is left: 5 s is ample for the first and too short for the second.
        let status = await relay.terminate(timeout: 5)
        #expect(status == 0, "the relay did not stop within 5 s with an SSE stream open; log:\n\(relay.log.suffix(2000))")
        #expect(await stream.waitUntil(timeout: 10) { _ in !stream.isAlive }, "curl still reading a stream the stopped relay should have ended")
        await stream.stop()
    }

    @Test func aStaleIDGetsTheGapEventBeforeTheRetainedEvents() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_RETENTION_MAX_EVENTS": "5"])
        try await Self.publish(relay, 12)
        let epoch = try await Self.epoch(relay)
        let stream = try Self.curl(relay, lastEventID: "\(epoch):2")
        #expect(await stream.waitUntil { $0.contains("id: \(epoch):12\n") })
        await stream.stop()
        let events = Self.parse(stream.output)
        let gapIndex = try #require(events.firstIndex { $0.event == "tether.gap" })
        let gap = try #require(try HTTP.json(Data(events[gapIndex].data.utf8)) as? [String: Any])
        #expect(gap["from"] as? Int == 3 && gap["to"] as? Int == 7 && gap["reason"] as? String == "evicted")
        let delivered = events.filter { $0.event == "t" }
        #expect(delivered.map(\.id) == (8...12).map { "\(epoch):\($0)" })
        #expect(events.firstIndex { $0.event == "t" }! > gapIndex, "the gap is said before the events after it")
        await relay.terminate()
    }

    @Test func anotherEpochIsToldToReset() async throws {
        let relay = try await RelayProcess.start()
        try await Self.publish(relay, 3)
        let epoch = try await Self.epoch(relay)
        let stream = try Self.curl(relay, lastEventID: "0123456789abcdef:7")
        #expect(await stream.waitUntil { $0.contains("id: \(epoch):3\n") })
        await stream.stop()
        let events = Self.parse(stream.output)
        #expect(events.first?.event == "tether.reset")
        #expect(events.filter { $0.event == "t" }.map(\.id) == (1...3).map { "\(epoch):\($0)" })
        await relay.terminate()
    }

    /// Events written to a stream whose client never read them (they died in the socket buffers
    /// with the connection) are sent again when the client comes back by `client_id` alone: a
    /// write is not a confirmation, only `Last-Event-ID` is. Before, they counted as delivered
    /// and were skipped without a word.
    @Test func eventsWrittenToAStreamThatDiedAreSentAgainToAClientResumingByID() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let first = try RawTCPConnection(port: relay.port)
        try await first.send("GET /v1/stream?client_id=sse-lost HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (bytes, _) = await first.read(timeout: 10) { bytes in
            Self.parse(String(decoding: bytes, as: UTF8.self)).contains { $0.event == "tether.welcome" && $0.data.hasSuffix("}") }
        }
        let welcome = try #require(Self.parse(String(decoding: bytes, as: UTF8.self)).first { $0.event == "tether.welcome" })
        let token = try #require((try HTTP.json(Data(welcome.data.utf8)) as? [String: Any])?["resume_token"] as? String)
        // 200 events are written to its socket, which it never reads; then the connection dies.
        try await Self.publish(relay, 200)
        var written = 0
        let deadline = Date().addingTimeInterval(20)
        while written < 200, Date() < deadline {
            let stats = try HTTP.json(try await relay.http("GET", "/v1/stats").body) as? [String: Any]
            let client = (stats?["clients"] as? [[String: Any]])?.first { $0["id"] as? String == "sse-lost" }
            written = client?["delivered"] as? Int ?? 0
            if written < 200 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(written == 200, "the relay did not write the 200 events to the stream")
        first.close()
        // Back by id alone, without Last-Event-ID: every one of them comes again, and no gap.
        let epoch = try await Self.epoch(relay)
        let again = try Self.curl(relay, "?client_id=sse-lost&resume_token=\(token)")
        #expect(await again.waitUntil { $0.contains("id: \(epoch):200\n") })
        await again.stop()
        let events = Self.parse(again.output)
        #expect(events.filter { $0.event == "t" }.compactMap { $0.id } == (1...200).map { "\(epoch):\($0)" })
        #expect(!events.contains { $0.event == "tether.gap" })
        await relay.terminate()
    }

    /// The type's promise: a client that hangs up is noticed at once, not at the next heartbeat
    /// (15 s here): its session ends and its client goes `disconnected`. (That its connection
    /// slot is free at once is `LimitsEndToEndTests.anSSEClientThatLeavesFreesItsSlotAtOnce`.)
    @Test func aClientThatHangsUpIsDisconnectedBeforeTheNextHeartbeat() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let stream = try RawTCPConnection(port: relay.port)
        try await stream.send("GET /v1/stream?client_id=sse-gone HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (bytes, _) = await stream.read(timeout: 10) { String(decoding: $0, as: UTF8.self).contains("tether.welcome") }
        #expect(String(decoding: bytes, as: UTF8.self).contains("tether.welcome"))
        stream.close()
        let state = try await Self.clientState(relay, "sse-gone", becomes: "disconnected")
        #expect(state == "disconnected", "5 s after the hang-up the client is still \(state ?? "unknown")")
        await relay.terminate()
    }

    @Test func persistentIdentityNeedsItsResumeToken() async throws {
        let relay = try await RelayProcess.start()
        let first = try Self.curl(relay, "?client_id=dash-1")
        #expect(await first.waitUntil { $0.contains("tether.welcome") })
        await first.stop()
        let welcome = try #require(Self.parse(first.output).first { $0.event == "tether.welcome" })
        let token = try #require((try HTTP.json(Data(welcome.data.utf8)) as? [String: Any])?["resume_token"] as? String)
        // Without the token the id is refused, with a JSON error, before any stream starts.
        let refused = try await relay.http("GET", "/v1/stream?client_id=dash-1")
        #expect(refused.status == 403)
        #expect(((try HTTP.json(refused.body) as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "resume_refused")
        let again = try Self.curl(relay, "?client_id=dash-1&resume_token=\(token)")
        #expect(await again.waitUntil { $0.contains("tether.welcome") })
        await again.stop()
        let stats = try await relay.http("GET", "/v1/stats")
        let clients = try #require((try HTTP.json(stats.body) as? [String: Any])?["clients"] as? [[String: Any]])
        #expect(clients.first { $0["id"] as? String == "dash-1" }?["reconnects"] as? Int == 1)
        await relay.terminate()
    }

    @Test(arguments: ["not-a-seq", "abc:xyz", "1:2:3"])
    func aMalformedLastEventIDIsRefused(_ id: String) async throws {
        let relay = try await RelayProcess.start()
        let response = try await relay.http("GET", "/v1/stream", headers: ["Last-Event-ID": id])
        #expect(response.status == 400)
        #expect(((try HTTP.json(response.body) as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "malformed")
        await relay.terminate()
    }

    @Test func topicsFilterTheStream() async throws {
        let relay = try await RelayProcess.start()
        let stream = try Self.curl(relay, "?topics=b")
        #expect(await stream.waitUntil { $0.contains("tether.welcome") })
        try await Self.publish(relay, 3, topic: "a")
        try await Self.publish(relay, 2, from: 3, topic: "b")
        #expect(await stream.waitUntil { $0.contains(#"{"n":4}"#) })
        await stream.stop()
        let delivered = Self.parse(stream.output).filter { $0.event == "a" || $0.event == "b" }
        #expect(delivered.map(\.event) == ["b", "b"])
        await relay.terminate()
    }
}
