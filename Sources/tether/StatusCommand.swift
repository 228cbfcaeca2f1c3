import ArgumentParser
import Foundation
import TetherClient
import TetherCore

/// `tether status`: the relay's connections as a table (or its stats JSON).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the relay's connections: state, quality, latency, lag.",
        discussion: "Asks the relay over its WebSocket protocol ({\"type\":\"stats\"}); the content is /v1/stats."
    )

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print the stats JSON as the relay sent it.")
    var json = false

    func run() async throws {
        var configuration = try client.clientConfiguration()
        configuration.backoff.maxAttempts = 0
        configuration.topics = ["\u{1F}tether-status-only"]  // receive no events
        configuration.ephemeral = true  // not a connection the table should show
        let tether = try TetherClient(configuration: configuration)
        let runner = Task { await tether.run() }
        var connected = false
        for await state in tether.states {
            if state == .connected { connected = true; break }
            if state == .failed { break }
        }
        guard connected else {
            await runner.value
            throw Console.fail(await tether.lastError ?? "could not reach the relay at \(client.resolvedURL)")
        }
        let bytes: [UInt8]
        do {
            bytes = try await tether.stats()
        } catch {
            await tether.stop()
            await runner.value
            throw Console.fail("the relay did not answer the stats request: \(error)")
        }
        let ownID = await tether.metrics.clientID
        await tether.stop()
        await runner.value
        if json {
            Console.out(bytes: bytes)
            return
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        let stats: RelayStats
        do {
            stats = try decoder.decode(RelayStats.self, from: Data(bytes))
        } catch {
            throw Console.fail("the relay's stats are not in the expected shape (\(error)); try --json")
        }
        Console.out(Self.render(stats, hiding: ownID))
    }

    /// A fixed-width table of clients, newest state first, and a totals line.
    static func render(_ stats: RelayStats, hiding ownID: String?) -> String {
        let t = stats.totals
        var lines = [
            "epoch \(t.epoch)  head \(t.headSequence)  oldest \(t.oldestSequence)  retained \(counted(t.bufferDepthEvents, "event")) / \(t.bufferDepthBytes) bytes",
            "published \(t.published)  delivered \(t.delivered)  acked \(t.acked)  replayed \(t.replayed)  reconnects \(t.reconnects)",
            "",
        ]
        let header = ["CLIENT", "STATE", "TRANSPORT", "QUALITY", "LATENCY", "LAG", "DELIVERED", "ACKED", "RECONNECTS"]
        var rows = [header]
        for client in stats.clients where client.id != ownID {
            rows.append([
                client.id, client.state, client.transport, String(format: "%.2f", client.quality),
                client.latencyMilliseconds.map { String(format: "%.1f ms", $0) } ?? "-",
                "\(client.lag)", "\(client.delivered)", "\(client.acked)", "\(client.reconnects)",
            ])
        }
        if rows.count == 1 {
            lines.append("no clients")
            return lines.joined(separator: "\n")
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
