import ArgumentParser
import Foundation
import TetherSystemd

/// `tether timeline CLIENT_ID`: one client's connection timeline, read from the journal.
struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "Print a client's connection timeline from the journal.",
        discussion: """
            Reads the local journal with libsystemd's reader (entries with TETHER_CLIENT_ID=CLIENT_ID \
            and a TETHER_EVENT), oldest first: time, event, state change, transport, latency, \
            quality, sequence, connection, remote, reason. CONN numbers the client's connections \
            1, 2, 3 in order of appearance across relay restarts (the relay's own TETHER_CONN_ID \
            starts again at 1 in each run). Reading other users' entries needs root or membership \
            of the systemd-journal group.
            """
    )

    @Argument(help: "The client id.")
    var clientID: String

    @Option(help: "Only entries from then on, as journalctl --since reads it: yesterday, today, now, 2026-11-20 10:15, 10:15, an ISO 8601 time, or a span back such as -15m, 2h, \"1 hour ago\".")
    var since: String?

    @Flag(help: "Print a JSON array instead of a table.")
    var json = false

    @Option(help: "Read the journal in this directory instead of the system's: the journal root (as journalctl --directory, e.g. /var/log/journal) or a folder of .journal files.")
    var directory: String?

    func run() throws {
        var start: Date?
        if let since {
            guard let parsed = Timeline.parseSince(since) else {
                throw ValidationError("--since \"\(since)\" is not a time (yesterday, today, now, 2026-11-20 10:15, 10:15, ISO 8601) or a span back (-15m, 2h, \"1 hour ago\")")
            }
            start = parsed
        }
        let timeline: Timeline
        do {
            timeline = try Timeline.read(clientID: clientID, since: start, directory: directory)
        } catch {
            FileHandle.standardError.write(Data("tether: error: cannot read the journal: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            print(try timeline.json(), terminator: "")
        } else if timeline.entries.isEmpty {
            FileHandle.standardError.write(Data("tether: no journal entries for client \(clientID)\n".utf8))
            throw ExitCode(1)
        } else {
            print(timeline.table(), terminator: "")
        }
    }
}
