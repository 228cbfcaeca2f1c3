import ArgumentParser

/// `tether`: the relay and its tools.
@main
struct TetherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "An event relay: sequence numbers, acknowledgements, replay on reconnect.",
        subcommands: [
            ServeCommand.self, TailCommand.self, PublishCommand.self, StatusCommand.self, TimelineCommand.self,
            PluginsCommand.self, ConfigCommand.self, BackupCommand.self, RestoreCommand.self, BenchCommand.self, SimulateClientCommand.self, DevCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
}
