import ArgumentParser
import TetherCore
import TetherServer
import TetherRouting

/// `tether plugins`: what this binary was built with.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the compiled-in plugins."
    )

    func run() {
        let catalog = PluginRegistry<TetherRouter>.builtins.catalog
        let width = catalog.map(\.name.count).max() ?? 0
        for entry in catalog {
            let padding = String(repeating: " ", count: width - entry.name.count)
            print("\(entry.kind)\t\(entry.name)\(padding)  \(entry.summary)")
        }
    }
}
