import Foundation
import Testing
import TetherTesting
import TetherClient
import TetherCore

extension RelayProcess {
    var webSocketURL: String { "ws://127.0.0.1:\(port)/v1/ws" }

    /// Publishes `count` events on `topic` over HTTP in one request; returns their seqs.
    @discardableResult
    func publish(_ count: Int, topic: String = "t", start: Int = 0) async throws -> [Int] {
        let items = (0..<count).map { #"{"topic":"\#(topic)","data":{"n":\#(start + $0)}}"# }
        let response = try await http("POST", "/v1/events", body: Data(("[" + items.joined(separator: ",") + "]").utf8), headers: ["Content-Type": "application/json"])
        #expect(response.status == 202, "\(String(decoding: response.body, as: UTF8.self))")
        return try #require((try HTTP.json(response.body) as? [String: Any])?["accepted"] as? [Int])
    }

    /// The relay's stats over a fresh WebSocket connection (`{"type":"stats"}`).
    func stats() async throws -> [String: Any] {
        let socket = RawSocket.connect(port: port)
        _ = try await socket.hello()
        socket.send(#"{"type":"stats"}"#)
        let reply = try await socket.expect("stats")
        socket.close()
        return try #require(reply["data"] as? [String: Any])
    }
}

/// Records everything a ``TetherClient`` hands its consumer (acking events as a consumer would),
/// so tests can wait for a condition with a deadline.
actor EventRecorder {
    private(set) var items: [ClientEvent] = []
    private(set) var finished = false

    /// Starts consuming `client.events` in a task of its own.
    static func start(_ client: TetherClient, ack: Bool = true) -> EventRecorder {
        let recorder = EventRecorder()
        Task {
            for await item in client.events {
                if ack, case .event(let event) = item { await client.ack(event.seq) }
                await recorder.append(item)
            }
            await recorder.finish()
        }
        return recorder
    }

    private func append(_ item: ClientEvent) { items.append(item) }
    private func finish() { finished = true }

    /// Waits until `done(items)` holds; throws with what was seen if the deadline passes first.
    @discardableResult
    func wait(timeout: Double = 30, _ what: String, until done: ([ClientEvent]) -> Bool) async throws -> [ClientEvent] {
        let deadline = Date().addingTimeInterval(timeout)
        while !done(items) {
            guard Date() < deadline, !finished else {
                throw RawSocketError("\(what): not seen within \(timeout) s (finished: \(finished)); got \(items.count) items, seqs \(items.seqs.prefix(5))...\(items.seqs.suffix(5)), gaps \(items.gaps)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return items
    }
}

extension Array where Element == ClientEvent {
    var seqs: [UInt64] {
        compactMap { if case .event(let event) = $0 { event.seq } else { nil } }
    }

    var gaps: [Gap] {
        compactMap { if case .gap(let gap) = $0 { gap } else { nil } }
    }
}
