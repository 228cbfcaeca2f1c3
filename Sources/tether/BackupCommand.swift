import ArgumentParser
import Foundation
import SQLiteStore
import TetherCore

/// `tether backup DEST`: a consistent, self-contained copy of the SQLite store's log, taken
/// while the relay runs (docs/OPERATIONS.md, "Backup and restore").
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite log to one self-contained file, while the relay runs or not.",
        discussion: "Restore the copy with `tether restore DEST --state-dir DIR`. Exit status 2: nothing was copied (the message says why)."
    )

    @Argument(help: "The file to write; it must not exist.")
    var destination: String

    @OptionGroup var state: StateDirectoryOption

    func run() throws {
        do {
            let summary = try SQLiteLogCopy.copy(from: state.database, to: destination)
            print(
                "backed up \(state.database) to \(destination): epoch \(summary.log.epoch), head \(summary.log.head), "
                    + "\(counted(summary.log.depthEvents, "event")), \(counted(summary.clients, "client record")), \(summary.bytes) bytes"
            )
        } catch let error as SQLiteStoreError {
            throw ServeCommand.fail("backup failed: \(error)")
        }
    }
}
