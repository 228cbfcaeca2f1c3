import Foundation
import Testing
import TetherClient
import TetherCore
import TetherTesting

/// TetherClient follows the shared close-code table (TetherCore's `CloseCodeTable`) on the
/// closes a real relay sends.
@Suite("TetherClient follows the close-code table")
struct TetherClientCloseCodeTests {
    static func waitUntil(_ deadline: Double = 20, _ condition: () async -> Bool) async throws {
        let end = Date().addingTimeInterval(deadline)
        while !(await condition()) {
            guard Date() < end else { Issue.record("condition not met within \(deadline) s"); return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func stateFile(_ state: ResumeState) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tether-state-\(UUID().uuidString).json").path
        try state.save(to: path)
        return path
    }

    @Test func supersededConnectionStopsWithoutFailing() async throws {
        let relay = try await RelayProcess.start()
        var configuration = TetherClientConfiguration(url: "ws://127.0.0.1:\(relay.port)/v1/ws")
        configuration.clientID = "twice"
        let first = try TetherClient(configuration: configuration)
        let firstRun = Task { await first.run() }
        try await Self.waitUntil { await first.metrics.state == .connected }

        // The same identity, secret included, connects again: the relay closes the first with 4504.
        var again = TetherClientConfiguration(url: configuration.url)
        again.stateFile = try Self.stateFile(await first.resumeState)
        let second = try TetherClient(configuration: again)
        let secondRun = Task { await second.run() }
        await firstRun.value

        #expect(await first.metrics.state == .disconnected)
        let lastError = await first.lastError ?? ""
        #expect(lastError.contains(CloseCodeTable.rule(for: 4504).text), "\(lastError)")
        await second.stop()
        await secondRun.value
        await relay.terminate()
    }

    @Test func refusedIdentityReconnectsAsANewClient() async throws {
        let relay = try await RelayProcess.start()
        var owner = TetherClientConfiguration(url: "ws://127.0.0.1:\(relay.port)/v1/ws")
        owner.clientID = "taken"
        let holder = try TetherClient(configuration: owner)
        let holderRun = Task { await holder.run() }
        try await Self.waitUntil { await holder.metrics.state == .connected }

        // Another client claims "taken" with the wrong secret: 4503, then it starts over as new.
        var claimant = TetherClientConfiguration(url: owner.url)
        claimant.stateFile = try Self.stateFile(ResumeState(clientID: "taken", resumeToken: "not-the-secret"))
        claimant.sleep = { _ in }
        let client = try TetherClient(configuration: claimant)
        let run = Task { await client.run() }
        try await Self.waitUntil { await client.metrics.state == .connected }

        let identity = await client.resumeState
        #expect(identity.clientID != nil && identity.clientID != "taken", "\(identity)")
        #expect(await holder.metrics.state == .connected, "the holder keeps its connection")
        await client.stop()
        await holder.stop()
        await run.value
        await holderRun.value
        await relay.terminate()
    }
}
