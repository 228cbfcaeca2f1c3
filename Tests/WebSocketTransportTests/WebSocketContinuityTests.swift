import Foundation
import Synchronization
import Testing
import TetherTesting

/// The report's case from outside: a count cap and a fast producer, a WebSocket subscriber that
/// keeps resuming near the old end of the log. Every sequence it receives follows the one before,
/// or a gap it was told of (in the welcome or a `gap` frame) that starts right after it. The
/// forced, deterministic form of the race is `ContinuityModel`; this is the real binary over
/// SQLite with real sockets, bounded in count and time.
@Suite("WebSocket continuity under eviction", .serialized)
struct WebSocketContinuityTests {
    @Test func resumesNearTheOldEndWhileTheCapEvictsNeverJumpSilently() async throws {
        // The log is larger than the relay's in-memory window (8192), and the lag cap does not
        // move a slow subscriber forward: its reads at the old end go to the store while the
        // producer's appends evict there, 50 at a time.
        let relay = try await RelayProcess.start(environment: ["TETHER_RETENTION_MAX_EVENTS": "10000", "TETHER_LAG_CAP": "1000000"])
        defer { _ = relay.process.isRunning ? kill(relay.process.processIdentifier, SIGKILL) : 0 }
        // Fill the log past its cap first, so the subscriber starts at the old end.
        for batch in 0..<220 { _ = try await relay.publish(50, start: batch * 50) }
        let producing = Atomic<Bool>(true)
        let producer = Task {
            var start = 11_000
            for _ in 0..<2000 where producing.load(ordering: .relaxed) {
                _ = try await relay.publish(50, start: start)
                start += 50
            }
        }
        defer { producing.store(false, ordering: .relaxed) }

        var clientID: String?
        var token: String?
        var epoch: String?
        var last = 0
        var received = 0
        var gaps = 0
        for round in 0..<60 {
            let socket = RawSocket.connect(port: relay.port)
            var hello: [String: Any] = ["last_sequence": last]
            if let clientID, let token, let epoch {
                hello = ["client_id": clientID, "resume_token": token, "epoch": epoch, "last_sequence": last]
            }
            let welcome = try await socket.hello(hello)
            clientID = clientID ?? welcome["client_id"] as? String
            token = token ?? welcome["resume_token"] as? String
            epoch = epoch ?? welcome["epoch"] as? String
            let replay = welcome["replay"] as? [String: Any]
            if let gap = replay?["gap"] as? [String: Any], let from = gap["from"] as? Int, let to = gap["to"] as? Int {
                #expect(from == last + 1, "round \(round): the welcome's gap starts at \(from) after \(last)")
                last = to
                gaps += 1
            }
            if let from = replay?["from"] as? Int {
                #expect(from == last + 1, "round \(round): the replay starts at \(from) after \(last)")
            }
            // Read a little, acking as a client does, then drop: the next resume starts behind,
            // near the old end of a log the producer keeps evicting.
            for _ in 0..<40 {
                guard let frame = try? await socket.next(timeout: 2) else { break }
                switch frame["type"] as? String {
                case "event":
                    let seq = try #require(frame["seq"] as? Int)
                    #expect(seq == last + 1, "round \(round): got \(seq) after \(last) with no gap declared")
                    last = max(last, seq)
                    received += 1
                    socket.send(json: ["type": "ack", "seq": seq])
                case "gap":
                    let from = try #require(frame["from"] as? Int)
                    #expect(from == last + 1, "round \(round): a gap frame starts at \(from) after \(last)")
                    last = try #require(frame["to"] as? Int)
                    gaps += 1
                default:
                    continue
                }
            }
            socket.close()
        }
        producing.store(false, ordering: .relaxed)
        _ = try? await producer.value
        #expect(received > 100, "the subscriber received \(received) events")
        #expect(gaps > 0, "the cap never evicted under the subscriber: the case was not exercised")
        #expect(try await relay.http("GET", "/healthz").status == 200)
        _ = await relay.terminate()
    }
}
