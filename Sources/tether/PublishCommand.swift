import ArgumentParser
import Foundation
import TetherClient
import TetherCore

/// `tether publish TOPIC [JSON | -]`: publish over the WebSocket protocol and print the seqs.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish events to the relay and print their sequence numbers.",
        discussion: """
            DATA is one JSON value. With - (or no DATA) stdin is read: one JSON value, or NDJSON \
            (one value per line, each its own event, published in order).
            """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The event's topic.")
    var topic: String

    @Argument(help: "The event's data as JSON, or - for stdin.")
    var data: String?

    @Option(help: "Producer id, so that a retry does not duplicate (single event only).")
    var id: String?

    func run() async throws {
        let payloads = try Self.payloads(data)
        guard !payloads.isEmpty else { throw Console.fail("nothing to publish: stdin was empty", code: 2) }
        var configuration = try client.clientConfiguration()
        configuration.backoff.maxAttempts = 3
        configuration.topics = ["\u{1F}tether-publish-only"]  // a topic no producer uses: receive nothing
        configuration.ephemeral = true  // leaves no client record behind (docs/PROTOCOL.md)
        let tether = try TetherClient(configuration: configuration)
        let runner = Task { await tether.run() }
        defer { runner.cancel() }
        do {
            for (index, payload) in payloads.enumerated() {
                let seq = try await tether.publish(topic: topic, data: payload, id: payloads.count == 1 ? id : id.map { "\($0)-\(index)" })
                Console.out("\(seq)")
            }
        } catch {
            await tether.stop()
            await runner.value
            throw Console.fail("publish failed: \(error)")
        }
        await tether.stop()
        await runner.value
    }

    /// The events to publish: `text` as one JSON value, or stdin as one value or NDJSON.
    static func payloads(_ text: String?) throws -> [[UInt8]] {
        let scanner = JSONScanner()
        if let text, text != "-" {
            let bytes = Array(text.utf8)
            do {
                _ = try scanner.validateDocument(bytes, in: bytes.indices)
            } catch {
                throw Console.fail("DATA is not valid JSON (\(error)); quote strings, e.g. '\"hello\"'", code: 2)
            }
            return [bytes]
        }
        let input = Array(FileHandle.standardInput.readDataToEndOfFile())
        if (try? scanner.validateDocument(input, in: input.indices)) != nil { return [input] }
        var result: [[UInt8]] = []
        for (number, line) in input.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let bytes = Array(line)
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            do {
                _ = try scanner.validateDocument(bytes, in: bytes.indices)
            } catch {
                throw Console.fail("stdin line \(number + 1) is not valid JSON (\(error))", code: 2)
            }
            result.append(bytes)
        }
        return result
    }
}
