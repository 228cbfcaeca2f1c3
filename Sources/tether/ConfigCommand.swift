import ArgumentParser
import Foundation
import TetherCore
import TetherRouting
import TetherServer

/// `tether config check|show`: the configuration `tether serve` would run with, without running it.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration, or show the values in force and where each came from.",
        subcommands: [Check.self, Show.self, Reference.self]
    )

    /// The same layers `serve` reads: TETHER_* environment, then the file.
    struct Source: ParsableArguments {
        @Option(help: "Configuration file, JSON or YAML (.yaml, .yml) (also TETHER_CONFIG).")
        var config: String?

        func load() async throws(ConfigurationError) -> (ConfigLayers, ServerConfiguration) {
            let environment = ProcessInfo.processInfo.environment
            let registry = PluginRegistry<TetherRouter>.builtins
            let layers = try await ConfigLayers.load(
                flags: [], environment: environment, configPath: config ?? environment["TETHER_CONFIG"], declared: registry.allKeys
            )
            let settings = try ServerConfiguration(settings: layers.settings, environment: environment)
            do {
                _ = try registry.store(named: settings.storeName)
                _ = try registry.transports(named: settings.transportNames ?? [])
                _ = try registry.exporters(named: settings.exporterNames ?? [])
            } catch {
                throw ConfigurationError("\(error); see `tether plugins`")
            }
            return (layers, settings)
        }
    }

    /// Exit 0 when `tether serve` would accept the configuration, 2 with the reason when not: for
    /// `ExecStartPre=` and CI.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the configuration file and TETHER_* variables as `tether serve` would; exit 0 if good, 2 if not."
        )

        @OptionGroup var source: Source

        func run() async throws {
            do throws(ConfigurationError) {
                let (layers, settings) = try await source.load()
                let registry = PluginRegistry<TetherRouter>.builtins
                let file = layers.file.map { " (\($0.path), \($0.format.rawValue))" } ?? " (no config file)"
                print("configuration is valid\(file)")
                print(settings.summary(
                    store: settings.storeName, transports: settings.transportNames ?? registry.transports.map(\.name),
                    exporters: settings.exporterNames ?? registry.exporters.map(\.name)
                ))
            } catch {
                throw ServeCommand.fail("bad configuration: \(error)")
            }
        }
    }

    /// Every key's effective value and its source (a flag, a variable, file:line, or the default).
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every key's value in force and where it came from (secrets masked)."
        )

        @OptionGroup var source: Source

        @Flag(help: "Print a JSON array of {key, value, source, component} instead of a table.")
        var json = false

        func run() async throws {
            let layers: ConfigLayers
            do throws(ConfigurationError) {
                layers = try await source.load().0
            } catch {
                throw ServeCommand.fail("bad configuration: \(error)")
            }
            let rows = layers.effectiveValues()
            if json {
                let objects = rows.map { ["key": $0.spec.key, "value": $0.value, "source": $0.source, "component": $0.spec.component] }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print(Table.render([["KEY", "VALUE", "SOURCE"]] + rows.map { [$0.spec.key, $0.value, $0.source] }))
        }
    }
}

/// Columns padded to their widest cell, two spaces apart.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension ConfigCommand {
    /// Prints the key table of docs/CONFIGURATION.md from the declarations.
    struct Reference: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the key table of docs/CONFIGURATION.md, made from the declared keys.", shouldDisplay: false
        )

        func run() {
            print(ConfigReference.markdown(PluginRegistry<TetherRouter>.builtins.allKeys), terminator: "")
        }
    }
}
