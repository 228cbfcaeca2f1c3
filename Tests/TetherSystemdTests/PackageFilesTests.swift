import Foundation
import Testing
import TetherTesting

/// The files `make package` ships besides the binary: the relay accepts the configuration file as
/// shipped, and the unit points at what the package installs.
@Suite("Debian package files")
struct PackageFilesTests {
    static let shippedConfig = packageRoot.appendingPathComponent("deploy/debian/tether.json")

    @Test func theShippedConfigurationFileIsAcceptedAsIs() async throws {
        // Its listen address is the default; the test moves it to a free port with the flag.
        let relay = try await RelayProcess.start(arguments: ["--config", Self.shippedConfig.path])
        #expect(try await relay.http("GET", "/readyz").status == 200)
        #expect(!relay.log.contains("warning") && !relay.log.contains("error"), "\(relay.log)")
        #expect(await relay.terminate() == 0)
        // A bad value in it would stop the relay with status 2: the file is really read.
        let broken = try temporaryDirectory(prefix: "tether-conf").appendingPathComponent("tether.json")
        let text = try String(contentsOf: Self.shippedConfig, encoding: .utf8)
        try Data(text.replacingOccurrences(of: #""level": "info""#, with: #""level": "loud""#).utf8).write(to: broken)
        let refused = try await TetherCommand.run(["serve", "--listen", "127.0.0.1:0", "--store", "memory", "--config", broken.path])
        #expect(refused.status == 2, "\(refused.output)")
    }

    @Test func theUnitRunsTheInstalledBinaryWithTheShippedConfiguration() throws {
        #expect(try UnitFileTests.settings("ExecStart") == ["/usr/bin/tether serve --log journal"])
        #expect(try UnitFileTests.settings("ExecReload") == ["/usr/bin/tether reload --pid $MAINPID"])
        #expect(try UnitFileTests.settings("RuntimeDirectory") == ["tether"])
        #expect(try UnitFileTests.settings("Environment").contains("TETHER_CONFIG=/etc/tether/tether.json"))
        #expect(try UnitFileTests.settings("EnvironmentFile") == ["-/etc/default/tether"])
    }
}
