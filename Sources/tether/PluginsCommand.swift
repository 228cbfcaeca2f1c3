import ArgumentParser
import Foundation
import TetherCore
import TetherServer
import TetherRouting

/// `tether plugins`: what this binary was built with.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the compiled-in plugins."
    )

    @Flag(help: "Print a JSON array of {kind, name, summary, keys} instead of a table.")
    var json = false

    func run() throws {
        let registry = PluginRegistry<TetherRouter>.builtins
        let catalog = registry.catalog
        if json {
            let keys = registry.declaredKeys
            let objects: [[String: Any]] = catalog.map { entry in
                let prefix = "\(entry.kind).\(entry.name)."
                return ["kind": entry.kind, "name": entry.name, "summary": entry.summary, "keys": keys.map(\.key).filter { $0.hasPrefix(prefix) }]
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(Table.render([["KIND", "NAME", "SUMMARY"]] + catalog.map { [$0.kind, $0.name, $0.summary] }))
    }
}
