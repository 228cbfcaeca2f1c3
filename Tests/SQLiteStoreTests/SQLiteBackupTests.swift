import Foundation
import Testing
import TetherTesting

/// docs/OPERATIONS.md, "Backup and restore", against the real binary: what a clean stop leaves,
/// `tether backup` under load, `tether restore`, and the state directories start-up refuses.
@Suite("SQLite backup, restore and clean stop", .serialized)
struct SQLiteBackupTests {
    @Test func cleanStopLeavesTetherSQLiteAloneHoldingTheWholeLog() async throws {
        let original = try temporaryDirectory(prefix: "tether-stop")
        let copy = try temporaryDirectory(prefix: "tether-stop-copy")
        defer { for directory in [original, copy] { try? FileManager.default.removeItem(at: directory) } }
        let relay = try await RelayProcess.start(arguments: ["--state-dir", original.path])
        let accepted = try await Self.publish(relay, batches: 20, pad: 1000)
        let epoch = try #require(try await SQLiteProcessTests.log(relay).epoch)
        #expect(await relay.terminate() == 0)

        let files = try FileManager.default.contentsOfDirectory(atPath: original.path).sorted()
        #expect(files == ["tether.sqlite"], "a clean stop leaves no -wal or -shm beside tether.sqlite: \(files)")
        try FileManager.default.copyItem(at: original.appendingPathComponent("tether.sqlite"), to: copy.appendingPathComponent("tether.sqlite"))
        let restored = try await RelayProcess.start(arguments: ["--state-dir", copy.path])
        let (restoredEpoch, events) = try await Self.events(restored)
        #expect(restoredEpoch == epoch, "the main file alone keeps the epoch")
        #expect(events.keys.sorted() == Array(1...UInt64(accepted.count)), "the main file alone holds every event")
        #expect(accepted.allSatisfy { events[$0.key] == SQLiteProcessTests.canonical($0.value) })
        #expect(await restored.terminate() == 0)
    }

    @Test func backupWhilePublishingRestoresAConsistentLogWithItsClients() async throws {
        let original = try temporaryDirectory(prefix: "tether-live")
        let target = try temporaryDirectory(prefix: "tether-restored")
        defer { for directory in [original, target] { try? FileManager.default.removeItem(at: directory) } }
        let backup = original.deletingLastPathComponent().appendingPathComponent("tether-backup-\(UUID().uuidString).sqlite")
        defer { try? FileManager.default.removeItem(at: backup) }
        let relay = try await RelayProcess.start(arguments: ["--state-dir", original.path])
        try await Self.connectClient(relay, id: "backup-client")
        // About 2 MB to copy, so the backup overlaps the producers below.
        _ = try await Self.publish(relay, batches: 200, pad: 1000)
        let epoch = try #require(try await SQLiteProcessTests.log(relay).epoch)

        // Producers keep publishing (at most 30 s and 40,000 events) while the backup runs.
        let accepted = AcceptedLog()
        let deadline = Date().addingTimeInterval(30)
        var headBefore = 0
        var result: Command.Result?
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<2 {
                group.addTask {
                    var request = 0
                    while !accepted.isStopped, Date() < deadline, accepted.count < 40_000 {
                        let payloads = (0..<10).map { "{\"p\":\(producer),\"r\":\(request),\"i\":\($0)}" }
                        request += 1
                        let body = payloads.map { "{\"topic\":\"load\",\"data\":\($0)}" }.joined(separator: "\n")
                        let response = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
                        #expect(response.status == 202, "a publish during the backup was refused")
                        if response.status == 202 { accepted.record(try accepted202(response.body), payloads) }
                    }
                }
            }
            while accepted.count < 500, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            headBefore = try #require(try await SQLiteProcessTests.log(relay).head)
            result = try await TetherCommand.run(["backup", backup.path, "--state-dir", original.path])
            accepted.stop()
            try await group.waitForAll()
        }
        let backedUp = try #require(result)
        #expect(backedUp.status == 0, "\(backedUp.output)")
        #expect(backedUp.output.contains("epoch \(epoch)"), "\(backedUp.output)")
        #expect(await relay.terminate() == 0)
        let restoring = try await TetherCommand.run(["restore", backup.path, "--state-dir", target.path])
        #expect(restoring.status == 0, "\(restoring.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == ["tether.sqlite"], "the backup is one self-contained file")

        let restored = try await RelayProcess.start(arguments: ["--state-dir", target.path])
        let (restoredEpoch, events) = try await Self.events(restored)
        let head = try #require(events.keys.max())
        #expect(restoredEpoch == epoch)
        #expect(head >= UInt64(headBefore), "the backup holds at least what was committed before it started")
        #expect(events.keys.sorted() == Array(1...head), "the copy is a snapshot of one moment: seqs 1...head, no hole")
        let promised = accepted.all.filter { $0.key <= head }
        #expect(promised.allSatisfy { events[$0.key] == SQLiteProcessTests.canonical($0.value) }, "events keep their seqs and payloads")
        print("backup under load: head \(headBefore) when it started, \(head) in the copy, \(accepted.count) events accepted in all")
        let stats = try HTTP.json(try await restored.http("GET", "/v1/stats").body) as? [String: Any]
        let clients = (stats?["clients"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(clients.contains("backup-client"), "client records are in the copy: \(clients)")
        #expect(await restored.terminate() == 0)
    }

    @Test func mainFileCopiedWithoutItsWALIsRefusedAndTheWALIsTheRemedy() async throws {
        let original = try temporaryDirectory(prefix: "tether-killed")
        let copy = try temporaryDirectory(prefix: "tether-partial")
        let restoreTarget = try temporaryDirectory(prefix: "tether-partial-restore")
        defer { for directory in [original, copy, restoreTarget] { try? FileManager.default.removeItem(at: directory) } }
        let relay = try await RelayProcess.start(arguments: ["--state-dir", original.path])
        let accepted = try await Self.publish(relay, batches: 10, pad: 500)
        let epoch = try #require(try await SQLiteProcessTests.log(relay).epoch)
        await relay.killHard()

        let main = copy.appendingPathComponent("tether.sqlite")
        try FileManager.default.copyItem(at: original.appendingPathComponent("tether.sqlite"), to: main)
        let before = try Data(contentsOf: main)
        let refused = try await TetherCommand.serveExpectingExit(stateDirectory: copy)
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains(main.path) && refused.output.contains("tether.sqlite-wal is not beside it"), "\(refused.output)")
        #expect(try Data(contentsOf: main) == before, "the refused file is left as it was")
        #expect(try FileManager.default.contentsOfDirectory(atPath: copy.path) == ["tether.sqlite"], "nothing was created beside it")
        let restore = try await TetherCommand.run(["restore", main.path, "--state-dir", restoreTarget.path])
        #expect(restore.status == 2 && restore.output.contains("tether.sqlite-wal is not beside it"), "\(restore.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: restoreTarget.path).isEmpty)

        // What the message says to do works: with its -wal back, the log is whole.
        try FileManager.default.copyItem(at: original.appendingPathComponent("tether.sqlite-wal"), to: copy.appendingPathComponent("tether.sqlite-wal"))
        let whole = try await RelayProcess.start(arguments: ["--state-dir", copy.path])
        let (wholeEpoch, events) = try await Self.events(whole)
        #expect(wholeEpoch == epoch && events.keys.sorted() == Array(1...UInt64(accepted.count)))
        #expect(await whole.terminate() == 0)
    }

    @Test func aWALOfAnotherLogIsRefused() async throws {
        let first = try temporaryDirectory(prefix: "tether-first")
        let second = try temporaryDirectory(prefix: "tether-second")
        let mixed = try temporaryDirectory(prefix: "tether-mixed")
        defer { for directory in [first, second, mixed] { try? FileManager.default.removeItem(at: directory) } }
        for directory in [first, second] {
            let relay = try await RelayProcess.start(arguments: ["--state-dir", directory.path])
            _ = try await Self.publish(relay, batches: 5, pad: 200)
            await relay.killHard()
        }
        let main = mixed.appendingPathComponent("tether.sqlite")
        try FileManager.default.copyItem(at: first.appendingPathComponent("tether.sqlite"), to: main)
        try FileManager.default.copyItem(at: second.appendingPathComponent("tether.sqlite-wal"), to: mixed.appendingPathComponent("tether.sqlite-wal"))
        let before = try Data(contentsOf: main)
        let refused = try await TetherCommand.serveExpectingExit(stateDirectory: mixed)
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains(main.path) && refused.output.contains("belongs to another log"), "\(refused.output)")
        #expect(try Data(contentsOf: main) == before)
    }

    @Test func restoreRefusesADirectoryThatHoldsALog() async throws {
        let directory = try temporaryDirectory(prefix: "tether-occupied")
        defer { try? FileManager.default.removeItem(at: directory) }
        let backup = directory.appendingPathComponent("backup.sqlite")
        let relay = try await RelayProcess.start(arguments: ["--state-dir", directory.path])
        _ = try await Self.publish(relay, batches: 2, pad: 10)
        #expect(try await TetherCommand.run(["backup", backup.path, "--state-dir", directory.path]).status == 0)
        let again = try await TetherCommand.run(["backup", backup.path, "--state-dir", directory.path])
        #expect(again.status == 2 && again.output.contains("already exists"), "a backup never overwrites: \(again.output)")
        let live = try Data(contentsOf: directory.appendingPathComponent("tether.sqlite"))
        let restore = try await TetherCommand.run(["restore", backup.path, "--state-dir", directory.path])
        #expect(restore.status == 2 && restore.output.contains("already exists"), "\(restore.output)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("tether.sqlite")) == live)
        #expect(await relay.terminate() == 0)
    }

    /// Publishes `batches` NDJSON batches of 10 events; returns seq → payload as sent.
    static func publish(_ relay: RelayProcess, batches: Int, pad: Int) async throws -> [UInt64: String] {
        let padding = String(repeating: "p", count: pad)
        var accepted: [UInt64: String] = [:]
        for batch in 0..<batches {
            let payloads = (0..<10).map { "{\"b\":\(batch),\"i\":\($0),\"pad\":\"\(padding)\"}" }
            let body = payloads.map { "{\"topic\":\"t\",\"data\":\($0)}" }.joined(separator: "\n")
            let response = try await relay.http("POST", "/v1/events", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
            for (seq, payload) in zip(try accepted202(response.body), payloads) { accepted[seq] = payload }
        }
        return accepted
    }

    /// The epoch and every retained event (seq → canonical payload), read page by page.
    static func events(_ relay: RelayProcess) async throws -> (epoch: String?, events: [UInt64: String]) {
        var found: [UInt64: String] = [:]
        var after: UInt64 = 0
        var epoch: String?
        while true {
            let object = try #require(try HTTP.json(try await relay.http("GET", "/v1/events?after=\(after)&limit=10000").body) as? [String: Any])
            epoch = object["epoch"] as? String
            let page = try #require(object["events"] as? [[String: Any]])
            guard !page.isEmpty else { return (epoch, found) }
            for event in page {
                let seq = UInt64(try #require(event["seq"] as? Int))
                let data = try JSONSerialization.data(withJSONObject: try #require(event["data"]), options: [.sortedKeys])
                found[seq] = String(decoding: data, as: UTF8.self)
                after = max(after, seq)
            }
        }
    }

    /// An SSE client connects with `id` (its record is saved at first connect) and leaves.
    static func connectClient(_ relay: RelayProcess, id: String) async throws {
        let connection = try RawTCPConnection(port: relay.port)
        defer { connection.close() }
        try await connection.send("GET /v1/stream?client_id=\(id) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        let (bytes, _) = await connection.read(timeout: 10) { String(decoding: $0, as: UTF8.self).contains("tether.welcome") }
        #expect(String(decoding: bytes, as: UTF8.self).contains("tether.welcome"), "the SSE client was not welcomed")
    }
}
