import Foundation
import Synchronization
import Testing
import TetherTesting

/// The real `tether serve` binary with its default store, killed, corrupted and starved of space.
/// Serialized: each test drives a relay as hard as the machine allows.
@Suite("tether serve on the SQLite store", .serialized)
struct SQLiteProcessTests {
    @Test(arguments: 1...5)
    func everyAcceptedEventSurvivesSIGKILL(_ round: Int) async throws {
        let directory = try temporaryDirectory(prefix: "tether-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["--store", "sqlite", "--state-dir", directory.path]
        let relay = try await RelayProcess.start(arguments: arguments)
        let epoch = try #require(try await Self.log(relay).epoch)

        // Producers publish as fast as they can (at most 20 s and 50,000 events) until the relay dies.
        let accepted = AcceptedLog()
        let deadline = Date().addingTimeInterval(20)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    var request = 0
                    while !accepted.isStopped, Date() < deadline, accepted.count < 50_000 {
                        let payloads = (0..<10).map { "{\"round\":\(round),\"p\":\(producer),\"r\":\(request),\"i\":\($0)}" }
                        request += 1
                        let body = payloads.map { "{\"topic\":\"crash\",\"data\":\($0)}" }.joined(separator: "\n")
                        guard let response = try? await relay.http(
                            "POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"]
                        ) else { return }  // the relay is gone: this request's fate is unknown, and not counted
                        guard response.status == 202 else { continue }
                        accepted.record(try accepted202(response.body), payloads)
                    }
                }
            }
            group.addTask {
                // Kill at a random moment once something was accepted.
                let start = Date()
                while accepted.count == 0, Date().timeIntervalSince(start) < 15 { try await Task.sleep(for: .milliseconds(5)) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...2500)))
                await relay.killHard()
                accepted.stop()
            }
            try await group.waitForAll()
        }
        let promised = accepted.all
        #expect(promised.count > 0, "no publish was accepted before the kill")
        print("crash round \(round): \(promised.count) events answered 202 before SIGKILL")

        let restarted = try await RelayProcess.start(arguments: arguments)
        var found: [UInt64: String] = [:]
        var order: [UInt64] = []
        var after: UInt64 = 0
        var restartedEpoch: String?
        while true {
            let page = try await restarted.http("GET", "/v1/events?after=\(after)&limit=10000")
            let object = try #require(try HTTP.json(page.body) as? [String: Any])
            restartedEpoch = object["epoch"] as? String
            let events = try #require(object["events"] as? [[String: Any]])
            guard !events.isEmpty else { break }
            for event in events {
                let seq = UInt64(try #require(event["seq"] as? Int))
                order.append(seq)
                let data = try JSONSerialization.data(withJSONObject: try #require(event["data"]), options: [.sortedKeys])
                found[seq] = String(decoding: data, as: UTF8.self)
            }
            after = order.last!
        }
        #expect(restartedEpoch == epoch, "a restart over the same database must keep its epoch")
        #expect(order.isEmpty || order == Array(1...UInt64(order.count)), "seqs are 1...head in order, with no hole")
        let missing = promised.keys.filter { found[$0] == nil }.sorted()
        #expect(missing.isEmpty, "\(missing.count) of \(promised.count) accepted events are gone, first \(missing.prefix(5))")
        let changed = promised.filter { seq, payload in found[seq].map { $0 != Self.canonical(payload) } ?? false }
        #expect(changed.isEmpty, "events stored under another seq: \(changed.keys.sorted().prefix(5))")

        // Sequencing goes on after the recovered head.
        let next = try await restarted.http("POST", "/v1/events", body: Data(#"{"topic":"after","data":1}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(try accepted202(next.body) == [UInt64(order.count) + 1])
        #expect(await restarted.terminate() == 0)
    }

    @Test func serveWithNoStoreFlagUsesSQLiteInTheStateDirectory() async throws {
        let directory = try temporaryDirectory(prefix: "tether-default")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try await RelayProcess.start(arguments: ["--state-dir", directory.path])
        #expect(relay.log.contains("store=sqlite"), "\(relay.log)")
        let published = try await relay.http("POST", "/v1/events", body: Data(#"{"topic":"t","data":1}"#.utf8), headers: ["Content-Type": "application/json"])
        #expect(try accepted202(published.body) == [1])
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("tether.sqlite").path))
        let epoch = try await Self.log(relay).epoch
        #expect(await relay.terminate() == 0)
        let again = try await RelayProcess.start(arguments: ["--state-dir", directory.path])
        #expect(try await Self.log(again) == (epoch, 1), "a clean restart keeps the epoch and the event")
        #expect(await again.terminate() == 0)
    }

    @Test func corruptDatabaseFailsStartUpWithExitCode2NamingTheFile() async throws {
        let directory = try temporaryDirectory(prefix: "tether-corrupt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tether.sqlite")
        let garbage = Data("this is not an SQLite database, but it is someone's data\n".utf8) + Data(repeating: 0xA5, count: 8192)
        try garbage.write(to: file)
        let result = try await Command.run(
            RelayProcess.binary.path, ["serve", "--listen", "127.0.0.1:0", "--state-dir", directory.path],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TETHER_") }, timeout: 30
        )
        let message = result.output
        #expect(result.status == 2, "\(message)")
        #expect(message.contains(file.path), "\(message)")
        #expect(message.contains("damaged or not an SQLite database"), "\(message)")
        #expect(try Data(contentsOf: file) == garbage, "the damaged file must be left as it was")
    }

    /// `store.sqlite.max-pages` makes SQLite itself answer SQLITE_FULL, as a full disk would.
    @Test func fullDatabaseAnswers503KeepsWhatItAcceptedAndRecovers() async throws {
        let directory = try temporaryDirectory(prefix: "tether-full")
        defer { try? FileManager.default.removeItem(at: directory) }
        let relay = try await RelayProcess.start(
            arguments: ["--store", "sqlite", "--state-dir", directory.path],
            environment: [
                "TETHER_STORE_SQLITE_MAX_PAGES": "60", "TETHER_RETENTION_TTL": "10", "TETHER_SWEEP_INTERVAL": "0.2",
            ]
        )
        let ndjson = ["Content-Type": "application/x-ndjson"]
        let pad = String(repeating: "z", count: 400)
        let accepted = AcceptedLog()
        var refusal: (status: Int, body: Data)?
        for request in 0..<2000 {
            let payloads = (0..<20).map { "{\"pad\":\"\(pad)\",\"r\":\(request),\"i\":\($0)}" }
            let body = payloads.map { "{\"topic\":\"full\",\"data\":\($0)}" }.joined(separator: "\n")
            let response = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ndjson)
            if response.status == 202 {
                accepted.record(try accepted202(response.body), payloads)
            } else {
                refusal = response
                break
            }
        }
        let refused = try #require(refusal, "60 pages never filled up")
        #expect(refused.status == 503)
        let error = try #require((try HTTP.json(refused.body) as? [String: Any])?["error"] as? [String: Any])
        #expect(error["code"] as? String == "store_unavailable")
        #expect((error["message"] as? String)?.contains("is full") == true, "\(error)")

        // Readiness says why, and keeps saying it across health sweeps that can still read.
        for _ in 0..<5 {
            let ready = try await relay.http("GET", "/readyz")
            #expect(ready.status == 503)
            #expect(String(decoding: ready.body, as: UTF8.self).contains("is full"))
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try await relay.http("GET", "/healthz").status == 200, "the relay is alive and serving reads")

        // Nothing accepted is lost, and reads keep working.
        let promised = accepted.all
        let read = try await relay.http("GET", "/v1/events?after=0&limit=10000")
        let object = try #require(try HTTP.json(read.body) as? [String: Any])
        let events = try #require(object["events"] as? [[String: Any]])
        if (object["oldest"] as? Int) == 1 {
            #expect(events.compactMap { $0["seq"] as? Int }.map(UInt64.init) == promised.keys.sorted())
        } else {
            Issue.record("the 10 s TTL expired before the check; the machine is too slow for this test's timing")
        }

        // Space returns when the TTL trims the old events: the same request that was refused
        // succeeds again (polled, as a producer retrying with backoff would), and readiness is back.
        let refusedBody = (0..<20).map { "{\"topic\":\"full\",\"data\":{\"pad\":\"\(pad)\",\"retry\":\($0)}}" }.joined(separator: "\n")
        let recovery = Date().addingTimeInterval(40)
        var recovered: (status: Int, body: Data)?
        var refusedRetries = 0
        while Date() < recovery {
            let response = try await relay.http("POST", "/v1/events", body: Data(refusedBody.utf8), headers: ndjson)
            if response.status == 202 { recovered = response; break }
            #expect(response.status == 503)
            refusedRetries += 1
            try await Task.sleep(for: .milliseconds(200))
        }
        let back = try #require(recovered, "writes did not resume after the TTL freed pages")
        #expect(refusedRetries > 0, "the retry should be refused while the old events are retained")
        let first = promised.keys.max()! + 1
        #expect(try accepted202(back.body) == Array(first..<(first + 20)), "no sequence number was used by the failed batches")
        print("full database: \(promised.count) events accepted before SQLITE_FULL, \(refusedRetries) retries refused before the TTL freed pages")
        #expect(try await relay.http("GET", "/readyz").status == 200)
        #expect(await relay.terminate() == 0)
    }

    static func log(_ relay: RelayProcess) async throws -> (epoch: String?, head: Int?) {
        let response = try await relay.http("GET", "/v1/events?after=0&limit=1")
        let object = try HTTP.json(response.body) as? [String: Any]
        return (object?["epoch"] as? String, object?["head"] as? Int)
    }

    /// The payload as the relay hands it back, re-serialized with sorted keys for comparison.
    static func canonical(_ payload: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return payload }
        return String(decoding: data, as: UTF8.self)
    }
}

/// What producers were told was accepted (seq → the payload they sent), and whether to stop.
final class AcceptedLog: Sendable {
    private let entries = Mutex<[UInt64: String]>([:])
    private let stopped = Atomic<Bool>(false)

    func record(_ seqs: [UInt64], _ payloads: [String]) {
        entries.withLock { for (seq, payload) in zip(seqs, payloads) { $0[seq] = payload } }
    }

    var all: [UInt64: String] { entries.withLock { $0 } }
    var count: Int { entries.withLock { $0.count } }
    var isStopped: Bool { stopped.load(ordering: .relaxed) }
    func stop() { stopped.store(true, ordering: .relaxed) }
}

/// The seqs of a 202 response's `{"accepted": [...]}`.
func accepted202(_ body: Data) throws -> [UInt64] {
    let object = try #require(try HTTP.json(body) as? [String: Any])
    return try #require(object["accepted"] as? [Int]).map(UInt64.init)
}
