import ArgumentParser
import TetherCore

/// `tether`: the relay and its tools.
@main
struct TetherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "An event relay: sequence numbers, acknowledgements, replay on reconnect.",
        version: TetherVersion.summary,
        subcommands: [
            ServeCommand.self, TailCommand.self, PublishCommand.self, StatusCommand.self, TimelineCommand.self,
            PluginsCommand.self, ConfigCommand.self, BackupCommand.self, RestoreCommand.self, ReloadCommand.self, VersionCommand.self,
            BenchCommand.self, SimulateClientCommand.self, DevCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
}
