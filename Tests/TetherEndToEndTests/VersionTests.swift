import Foundation
import Testing
import TetherTesting

/// What the binary says it is: `tether --version`, `tether version [--json]` and the
/// `tether_build_info` gauge of a running relay agree, and name the repository's `VERSION` and the
/// commit the binary was built from.
@Suite("Version and build information")
struct VersionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func versionJSON() async throws -> (version: String, commit: String) {
        let result = try await TetherCommand.run(["version", "--json"])
        #expect(result.status == 0, "\(result.output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String], "\(result.output)")
        return (try #require(object["version"]), try #require(object["commit"]))
    }

    @Test func versionFlagAndCommandNameTheVersionFileAndTheCommit() async throws {
        let file = try String(contentsOf: Self.root.appendingPathComponent("VERSION"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (version, commit) = try await Self.versionJSON()
        #expect(version == file)
        let flag = try await TetherCommand.run(["--version"])
        #expect(flag.status == 0)
        #expect(flag.output.trimmingCharacters(in: .newlines) == "\(file) (commit \(commit))", "\(flag.output)")
        let command = try await TetherCommand.run(["version"])
        #expect(command.output.trimmingCharacters(in: .newlines) == "tether \(file) (commit \(commit))", "\(command.output)")
        // Built from this clone: a commit of its history, HEAD or before it (a plain `swift build`
        // may reuse a manifest evaluated at an earlier HEAD; `make` passes TETHER_COMMIT).
        let head = try await Command.run("/usr/bin/git", ["-C", Self.root.path, "rev-parse", "HEAD"])
        if head.status == 0 {
            let built = commit.hasSuffix("-dirty") ? String(commit.dropLast(6)) : commit
            #expect(built.count == 12 && built.allSatisfy(\.isHexDigit), "\(commit)")
            let ancestor = try await Command.run("/usr/bin/git", ["-C", Self.root.path, "merge-base", "--is-ancestor", built, "HEAD"])
            #expect(ancestor.status == 0, "the binary names \(commit), which is not HEAD or before it: \(ancestor.output)")
            if let expected = ProcessInfo.processInfo.environment["TETHER_COMMIT"] {
                #expect(commit == expected, "make built it with TETHER_COMMIT=\(expected)")
            }
        } else {
            #expect(commit == "unknown")
        }
    }

    @Test func buildInfoGaugeAgreesWithTetherVersion() async throws {
        let (version, commit) = try await Self.versionJSON()
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        let metrics = try await relay.http("GET", "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(text.contains("\ntether_build_info{version=\"\(version)\",commit=\"\(commit)\"} 1\n"), "\(text.prefix(600))")
        #expect(await relay.terminate() == 0)
    }
}
