import ArgumentParser
import TetherCore

/// `tether version`: the version and git commit this binary was built from (also `tether
/// --version`, and `tether_build_info` on `/metrics`).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version and git commit this binary was built from."
    )

    @Flag(help: "Print {\"version\": …, \"commit\": …}.")
    var json = false

    func run() {
        if json {
            print(#"{"version":"\#(TetherVersion.string)","commit":"\#(TetherVersion.commit)"}"#)
        } else {
            print("tether \(TetherVersion.summary)")
        }
    }
}
