import ArgumentParser
import Foundation
import SQLiteStore
import TetherCore

/// `tether restore SRC`: puts a `tether backup` copy (or a cleanly stopped relay's
/// `tether.sqlite`) into a state directory that holds no log, after checking it is one whole
/// Tether log (docs/OPERATIONS.md, "Backup and restore").
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into an empty state directory.",
        discussion: "The relay must be stopped and the directory must hold no tether.sqlite, -wal or -shm. Exit status 2: nothing was restored (the message says why)."
    )

    @Argument(help: "A file written by `tether backup`, or the tether.sqlite of a cleanly stopped relay.")
    var source: String

    @OptionGroup var state: StateDirectoryOption

    func run() throws {
        do {
            try FileManager.default.createDirectory(atPath: state.directory, withIntermediateDirectories: true)
            let summary = try SQLiteLogCopy.copy(from: source, to: state.database)
            print(
                "restored \(source) to \(state.database): epoch \(summary.log.epoch), head \(summary.log.head), "
                    + "\(counted(summary.log.depthEvents, "event")), \(counted(summary.clients, "client record")). Start the relay with --state-dir \(state.directory)"
            )
        } catch let error as SQLiteStoreError {
            throw ServeCommand.fail("restore failed: \(error)")
        } catch {
            throw ServeCommand.fail("restore failed: the state directory \(state.directory) could not be created: \(error.localizedDescription)")
        }
    }
}
