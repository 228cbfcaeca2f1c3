import ArgumentParser
import Foundation
import SQLiteStore

/// `--state-dir` for commands that work on a relay's files, resolved as `tether serve` resolves
/// it: the flag, else `TETHER_STATE_DIR`, else systemd's `STATE_DIRECTORY`, else `./tether-data`.
struct StateDirectoryOption: ParsableArguments {
    @Option(help: "The relay's state directory (default: TETHER_STATE_DIR, STATE_DIRECTORY, or ./tether-data).")
    var stateDir: String?

    var directory: String {
        let environment = ProcessInfo.processInfo.environment
        return stateDir ?? environment["TETHER_STATE_DIR"]
            ?? environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? "./tether-data"
    }

    var database: String { (directory as NSString).appendingPathComponent(SQLiteBufferStore.fileName) }
}
