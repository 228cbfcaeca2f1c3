import Foundation
import Testing
import TetherTesting

/// The shipped units pass `systemd-analyze verify` (with ExecStart= pointing at the built binary)
/// and stay hardened: `systemd-analyze security --offline=true` scores tether.service at most 1.5.
@Suite("deploy/systemd units")
struct UnitFileTests {
    static let maximumExposure = 1.5

    /// A copy of deploy/systemd with ExecStart= naming the binary under test.
    static func installedCopy() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tether-units-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["tether.service", "tether.socket"] {
            var text = try String(contentsOf: packageRoot.appendingPathComponent("deploy/systemd/\(name)"), encoding: .utf8)
            text = text.replacingOccurrences(of: "/usr/local/bin/tether", with: RelayProcess.binary.path)
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    static func analyze(_ arguments: [String], in directory: URL) async throws -> (status: Int32, output: String) {
        let result = try await Command.run("/usr/bin/systemd-analyze", arguments, directory: directory)
        return (result.status, result.output)
    }

    @Test func unitsVerify() async throws {
        let directory = try Self.installedCopy()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.analyze(["verify", "--man=no", directory.appendingPathComponent("tether.service").path, directory.appendingPathComponent("tether.socket").path], in: directory)
        #expect(result.status == 0, "\(result.output)")
        // verify prints problems as warnings without failing for some of them: none expected.
        let problems = result.output.split(separator: "\n").filter { !$0.contains("Failed to connect") }
        #expect(problems.isEmpty, "\(result.output)")
    }

    @Test func serviceExposureIsAtMostOnePointFive() async throws {
        let directory = try Self.installedCopy()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.analyze(["security", "--offline=true", "--no-pager", directory.appendingPathComponent("tether.service").path], in: directory)
        let line = try #require(result.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(result.output)")
        // "→ Overall exposure level for tether.service: 1.2 OK 🙂"
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        let exposure = try #require(score, "cannot read a score from \(line)")
        #expect(exposure <= Self.maximumExposure, "\(result.output)")
    }
}
