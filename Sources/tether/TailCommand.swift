import ArgumentParser
import Foundation
import TetherClient
import TetherCore

/// `tether tail`: print events as they arrive, resuming across restarts with `--state`.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print events from the relay as they arrive.",
        discussion: """
            With --state FILE the client's id, resume secret, epoch and last processed sequence \
            are kept in FILE, so a restarted tail resumes where it stopped (replay, then live). \
            If the relay's log is new (a memory store restarted), tail says so and starts over. \
            Notices (connected, gap, reset, state changes) go to stderr; events to stdout.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "Client id to use when there is no saved state (default: the relay assigns one).")
    var clientID: String?

    @Option(help: "File to keep the client's identity and position in.")
    var state: String?

    @Option(name: .customLong("topic"), help: "Receive only this topic (repeatable).")
    var topics: [String] = []

    @Option(help: "On a fresh start, first receive the newest N retained events.")
    var history: Int?

    @Flag(help: "Print each event as its JSON frame.")
    var json = false

    @Option(help: "Give up after this many failed reconnect attempts in a row.")
    var maxAttempts = 10

    @Option(help: "Exit after this many events.")
    var count: Int?

    func run() async throws {
        var configuration = try client.clientConfiguration()
        configuration.clientID = clientID
        configuration.stateFile = state
        configuration.topics = topics
        configuration.history = history
        configuration.backoff.maxAttempts = maxAttempts
        let tether: TetherClient
        do {
            tether = try TetherClient(configuration: configuration)
        } catch {
            throw Console.fail("\(error)", code: 2)
        }
        let stopper = StopOnSignal(tether)
        let runner = Task { await tether.run() }
        let states = Task {
            for await state in tether.states { Console.note("state \(state.rawValue)") }
        }
        var printed = 0
        for await item in tether.events {
            switch item {
            case .welcome(let info):
                let replay = info.replayCount > 0 ? "replaying \(counted(info.replayCount, "event")) (seq \(info.replayFrom)...\(info.replayTo))" : "nothing to replay"
                Console.note("connected as \(info.clientID) (epoch \(info.epoch), head \(info.head)\(info.resumed ? ", resumed" : "")); \(replay)")
            case .event(let event):
                if json {
                    Console.out(bytes: event.frame)
                } else {
                    Console.out("\(event.seq)\t\(event.time)\t\(event.topic)\t\(String(decoding: event.data, as: UTF8.self))")
                }
                await tether.ack(event.seq)
                printed += 1
                if let count, printed >= count { await tether.stop() }
            case .gap(let gap):
                Console.note("gap: seq \(gap.from)...\(gap.to) (\(counted(gap.count, "event"))) will not be delivered: \(gap.reason.rawValue)")
                if json { Console.out("{\"type\":\"gap\",\"from\":\(gap.from),\"to\":\(gap.to),\"count\":\(gap.count),\"reason\":\"\(gap.reason.rawValue)\"}") }
            case .reset(let epoch):
                Console.note("reset: the relay's log is new (epoch \(epoch)); earlier sequence numbers no longer apply, starting over from its retained events")
                if json { Console.out("{\"type\":\"reset\",\"epoch\":\"\(epoch)\"}") }
            }
        }
        await runner.value
        await states.value
        _ = stopper
        let metrics = await tether.metrics
        if metrics.state == .failed {
            throw Console.fail(await tether.lastError ?? "could not stay connected to \(client.resolvedURL)")
        }
    }
}
