import Foundation
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// Delivery over `/v1/ws` with the real relay process and ``TetherClient``: live, resume, gaps,
/// resets. Every wait is a deadline, never a fixed sleep.
@Suite("WebSocket delivery")
struct WebSocketDeliveryTests {
    @Test func hundredLiveEventsArriveInOrder() async throws {
        let relay = try await RelayProcess.start()
        let client = try TetherClient(configuration: TetherClientConfiguration(url: relay.webSocketURL))
        let recorder = EventRecorder.start(client)
        let runner = Task { await client.run() }
        try await recorder.wait("welcome") { $0.contains { if case .welcome = $0 { true } else { false } } }
        try await relay.publish(100)
        let items = try await recorder.wait("100 events") { $0.seqs.count >= 100 }
        #expect(items.seqs == Array(1...100))
        #expect(items.gaps.isEmpty)
        await client.stop()
        await runner.value
        await relay.terminate()
    }

    @Test func resumeDeliversExactlyTheMissedEventsInOrderThenLive() async throws {
        let relay = try await RelayProcess.start()
        let first = try TetherClient(configuration: TetherClientConfiguration(url: relay.webSocketURL))
        let firstRecorder = EventRecorder.start(first)
        let firstRun = Task { await first.run() }
        try await firstRecorder.wait("welcome") { !$0.isEmpty }
        try await relay.publish(10)
        try await firstRecorder.wait("10 events") { $0.seqs.count >= 10 }
        await first.stop()
        await firstRun.value
        let saved = await first.resumeState
        #expect(saved.lastSequence == 10)

        try await relay.publish(500, start: 10)
        var configuration = TetherClientConfiguration(url: relay.webSocketURL)
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("tether-resume-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: stateFile) }
        try saved.save(to: stateFile)
        configuration.stateFile = stateFile
        let second = try TetherClient(configuration: configuration)
        let recorder = EventRecorder.start(second)
        let secondRun = Task { await second.run() }
        let replayed = try await recorder.wait("500 replayed events") { $0.seqs.count >= 500 }
        guard case .welcome(let welcome) = try #require(replayed.first) else {
            Issue.record("first item is not the welcome: \(replayed.first!)")
            return
        }
        #expect(welcome.resumed)
        #expect(welcome.replayCount == 500)
        #expect(welcome.replayFrom == 11 && welcome.replayTo == 510)
        #expect(welcome.gap == nil && !welcome.reset)
        try await relay.publish(5, start: 510)
        let all = try await recorder.wait("5 live events after the replay") { $0.seqs.count >= 505 }
        #expect(all.seqs == Array(11...515), "replay then live, no duplicate, no reordering at the seam")
        #expect(await second.metrics.duplicatesDropped == 0)
        await second.stop()
        await secondRun.value
        await relay.terminate()
    }

    @Test func resumeAfterLagCapDeclaresGapAndDeliversNewestThousand() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_LAG_CAP": "1000"])
        let socket = RawSocket.connect(port: relay.port)
        let welcome = try await socket.hello()
        let clientID = try #require(welcome["client_id"] as? String)
        let token = try #require(welcome["resume_token"] as? String)
        let epoch = try #require(welcome["epoch"] as? String)
        try await relay.publish(3)
        _ = try await socket.events(3)
        socket.send(#"{"type":"ack","seq":3}"#)
        socket.close()
        _ = try await socket.closed()

        try await relay.publish(1500, start: 3)  // seq 4...1503
        let resumed = RawSocket.connect(port: relay.port)
        let again = try await resumed.hello(["client_id": clientID, "resume_token": token, "epoch": epoch, "last_sequence": 3])
        let replay = try #require(again["replay"] as? [String: Any])
        let gap = try #require(replay["gap"] as? [String: Any])
        #expect(gap["from"] as? Int == 4)
        #expect(gap["to"] as? Int == 503)
        #expect(gap["reason"] as? String == "lag_cap")
        #expect(replay["count"] as? Int == 1000)
        #expect(replay["from"] as? Int == 504)
        #expect(replay["to"] as? Int == 1503)
        var seqs: [Int] = []
        while seqs.count < 1000 {
            let (events, others) = try await resumed.events(min(200, 1000 - seqs.count))
            #expect(others.isEmpty, "no other frames inside the replay: \(others)")
            seqs += events.compactMap { $0["seq"] as? Int }
            resumed.send(#"{"type":"ack","seq":\#(seqs.last!)}"#)
        }
        #expect(seqs == Array(504...1503))
        resumed.close()
        await relay.terminate()
    }

    @Test func resumeFromAnotherEpochIsToldToReset() async throws {
        let relay = try await RelayProcess.start()
        try await relay.publish(7)
        let socket = RawSocket.connect(port: relay.port)
        let welcome = try await socket.hello(["epoch": "0123456789abcdef", "last_sequence": 42])
        let replay = try #require(welcome["replay"] as? [String: Any])
        #expect(replay["reset"] as? Bool == true)
        #expect(replay["from"] as? Int == 1)
        #expect(replay["count"] as? Int == 7)
        #expect(welcome["epoch"] as? String != "0123456789abcdef")
        let (events, _) = try await socket.events(7)
        #expect(events.compactMap { $0["seq"] as? Int } == Array(1...7))
        socket.close()
        await relay.terminate()
    }

    /// A client that says `"batch":true` gets `events` frames: every event once, in order, with
    /// the same fields, in fewer frames than events; gaps still come where they are.
    @Test func batchingClientGetsEveryEventInOrderInFewerFrames() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_LAG_CAP": "400", "TETHER_WINDOW": "100"])
        let socket = RawSocket.connect(port: relay.port)
        _ = try await socket.hello(["batch": true])
        try await relay.publish(300)
        var seqs: [Int] = []
        var frames = 0
        var acked = 0
        while seqs.count < 300 {
            let frame = try await socket.expect("events")
            frames += 1
            let events = try #require(frame["events"] as? [[String: Any]])
            #expect(!events.isEmpty)
            for event in events {
                #expect(event["topic"] as? String == "t" && event["time"] is String && (event["data"] as? [String: Any])?["n"] as? Int == (event["seq"] as? Int ?? 0) - 1)
                seqs.append(try #require(event["seq"] as? Int))
            }
            // The window (100 here) holds the rest back until an ack.
            if seqs.count - acked >= 100 || seqs.count == 300 {
                acked = seqs.count
                socket.send(#"{"type":"ack","seq":\#(acked)}"#)
            }
        }
        #expect(seqs == Array(1...300))
        #expect(frames < 300 / 2, "\(frames) frames for 300 events")
        // Past the lag cap (400) while it is not acking: the gap frame comes first, then batches.
        try await relay.publish(600, start: 300)
        var afterGap: [Int] = []
        let first = try await socket.next()
        if first["type"] as? String == "events" {
            // What was in flight before the gap was declared.
            afterGap += try #require(first["events"] as? [[String: Any]]).compactMap { $0["seq"] as? Int }
        }
        socket.send(#"{"type":"ack","seq":\#(afterGap.last ?? 300)}"#)
        var sawGap = first["type"] as? String == "gap"
        while afterGap.last ?? 0 < 900 {
            let frame = try await socket.next()
            if frame["type"] as? String == "gap" {
                sawGap = true
                let to = try #require(frame["to"] as? Int)
                socket.send(#"{"type":"ack","seq":\#(to)}"#)
                continue
            }
            let events = try #require(frame["events"] as? [[String: Any]], "\(frame)")
            afterGap += events.compactMap { $0["seq"] as? Int }
            socket.send(#"{"type":"ack","seq":\#(afterGap.last ?? 0)}"#)
        }
        #expect(sawGap)
        #expect(afterGap == afterGap.sorted() && Set(afterGap).count == afterGap.count, "in order, no duplicate")
        #expect(afterGap.last == 900)
        // A hello whose batch is not a boolean is refused.
        let bad = RawSocket.connect(port: relay.port)
        bad.send(json: ["type": "hello", "batch": "yes"])
        let error = try await bad.expect("error")
        #expect(error["code"] as? String == "invalid_hello")
        socket.close()
        await relay.terminate()
    }

    @Test func slowConsumerGetsGapFrameBeforeTheEventsAfterIt() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_LAG_CAP": "50", "TETHER_WINDOW": "10"])
        let socket = RawSocket.connect(port: relay.port)
        _ = try await socket.hello()
        try await relay.publish(10)
        // The window holds 10 unacked events; the relay sends no more until an ack.
        let (first, _) = try await socket.events(10)
        #expect(first.compactMap { $0["seq"] as? Int } == Array(1...10))
        try await relay.publish(190, start: 10)
        socket.send(#"{"type":"ack","seq":10}"#)
        let gap = try await socket.expect("gap")
        #expect(gap["from"] as? Int == 11)
        #expect(gap["to"] as? Int == 150)
        #expect(gap["reason"] as? String == "lag_cap")
        // Acking the end of the gap is allowed (the client has dealt with it), as after a
        // welcome's gap.
        socket.send(#"{"type":"ack","seq":150}"#)
        let (after, others) = try await socket.events(10)
        #expect(after.compactMap { $0["seq"] as? Int } == Array(151...160))
        #expect(others.isEmpty, "\(others)")
        socket.close()
        await relay.terminate()
    }

    @Test func publishOverTheSocketIsIdempotentByProducerID() async throws {
        let relay = try await RelayProcess.start()
        let socket = RawSocket.connect(port: relay.port)
        _ = try await socket.hello(["topics": ["nothing-here"]])
        socket.send(#"{"type":"publish","topic":"orders","data":{"total":1.50},"id":"order-1"}"#)
        let first = try await socket.expect("published")
        socket.send(#"{"type":"publish","topic":"orders","data":{"total":1.50},"id":"order-1"}"#)
        let retry = try await socket.expect("published")
        #expect(first["seq"] as? Int == 1)
        #expect(retry["seq"] as? Int == 1)
        #expect(retry["id"] as? String == "order-1")
        let read = try await relay.http("GET", "/v1/events?after=0")
        #expect(String(decoding: read.body, as: UTF8.self).contains(#""data":{"total":1.50}"#))
        socket.close()
        await relay.terminate()
    }

    @Test func pipelinedPublishesAreAnsweredInOrder() async throws {
        let relay = try await RelayProcess.start()
        let socket = RawSocket.connect(port: relay.port)
        _ = try await socket.hello(["topics": ["nothing-here"]])
        for n in 0..<300 {
            socket.send(n == 150 ? #"{"type":"publish","data":1,"id":"bad"}"# : #"{"type":"publish","topic":"p","data":\#(n),"id":"p-\#(n)"}"#)
        }
        var answers: [String] = []
        var seqs: [Int] = []
        for _ in 0..<300 {
            let frame = try await socket.next()
            if frame["type"] as? String == "published" { seqs.append(try #require(frame["seq"] as? Int)) }
            answers.append("\(frame["type"] as? String ?? "?"):\(frame["id"] as? String ?? "-")")
        }
        #expect(answers == (0..<300).map { $0 == 150 ? "error:bad" : "published:p-\($0)" })
        #expect(seqs == Array(1...299))
        socket.close()
        await relay.terminate()
    }

    /// The relay remembers its last 8 pings; at a 0.5 s interval a pong may take up to ~4 s on a
    /// loaded machine and still count.
    @Test func relayPingsAndRecordsTheRoundTrip() async throws {
        let relay = try await RelayProcess.start(environment: ["TETHER_TRANSPORT_WEBSOCKET_PING_INTERVAL": "0.5"])
        let socket = RawSocket.connect(port: relay.port)
        let welcome = try await socket.hello()
        let ping = try await socket.next(pings: true)
        #expect(ping["type"] as? String == "ping")
        let id = try #require(ping["id"] as? Int)
        socket.send(#"{"type":"pong","id":\#(id)}"#)
        let deadline = Date().addingTimeInterval(20)
        var latency: Double?
        while latency == nil, Date() < deadline {
            let stats = try await relay.stats()
            let clients = stats["clients"] as? [[String: Any]] ?? []
            latency = clients.first { $0["id"] as? String == welcome["client_id"] as? String }?["latency_milliseconds"] as? Double
            if latency == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(latency != nil)
        socket.close()
        await relay.terminate()
    }
}
