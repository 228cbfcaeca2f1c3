import ArgumentParser

/// `tether`: the relay and its tools.
@main
struct TetherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "An event relay: sequence numbers, acknowledgements, replay on reconnect.",
        subcommands: [ServeCommand.self, PluginsCommand.self, DevCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
