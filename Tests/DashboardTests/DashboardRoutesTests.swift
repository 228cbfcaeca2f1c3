import Foundation
import Testing
import TetherTesting

/// The relay serves the dashboard's files with the right media types and nothing else.
@Suite("Dashboard routes")
struct DashboardRoutesTests {
    @Test func servesThePageAndItsAssetsWithTheirMediaTypes() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        for (path, type, marker) in [
            ("/", "text/html", "connection-badge"),
            ("/dashboard/js/connection-manager.js", "text/javascript", "export class ConnectionManager"),
            ("/dashboard/js/dashboard.js", "text/javascript", "window.tether"),
            ("/dashboard/css/connection-status.css", "text/css", "data-state"),
        ] {
            let (status, body, contentType) = try await Self.get(relay, path)
            #expect(status == 200, "\(path)")
            #expect(contentType?.hasPrefix(type) == true, "\(path): \(contentType ?? "no Content-Type")")
            #expect(String(decoding: body, as: UTF8.self).contains(marker), "\(path)")
        }
        await relay.terminate()
    }

    @Test func missingOrEscapingPathsAreJSON404() async throws {
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"])
        for path in [
            "/dashboard/nope.js", "/dashboard/", "/dashboard/DashboardRoutes.swift", "/dashboard/../Package.swift",
            "/dashboard/%2e%2e/Package.swift", "/dashboard/js/../../Package.swift", "/dashboard/.hidden",
            "/dashboard/js/../index.html",
        ] {
            let (status, body, contentType) = try await Self.get(relay, path)
            #expect(status == 404, "\(path)")
            #expect(contentType?.hasPrefix("application/json") == true, "\(path): \(contentType ?? "none")")
            let error = (try? HTTP.json(body) as? [String: Any])?["error"] as? [String: Any]
            #expect(error?["code"] as? String == "not_found", "\(path): \(String(decoding: body, as: UTF8.self))")
        }
        await relay.terminate()
    }

    @Test func symlinksLeadingOutOfTheFolderAreNotServed() async throws {
        let folder = try temporaryDirectory(prefix: "dashboard")
        let outside = try temporaryDirectory(prefix: "outside")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("js"), withIntermediateDirectories: true)
        try Data("<p>page</p>".utf8).write(to: folder.appendingPathComponent("index.html"))
        try Data("export const inside = 1".utf8).write(to: folder.appendingPathComponent("js/inside.js"))
        try Data("export const secret = 1".utf8).write(to: outside.appendingPathComponent("secret.js"))
        // A file link and a directory link pointing out, and a link that stays inside.
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("js/leak.js"), withDestinationURL: outside.appendingPathComponent("secret.js"))
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("linked"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("js/alias.js"), withDestinationURL: folder.appendingPathComponent("js/inside.js"))
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], environment: ["TETHER_DASHBOARD_DIR": folder.path])
        for path in ["/", "/dashboard/js/inside.js", "/dashboard/js/alias.js"] {
            #expect(try await Self.get(relay, path).0 == 200, "\(path)")
        }
        for path in ["/dashboard/js/leak.js", "/dashboard/linked/secret.js"] {
            let (status, body, _) = try await Self.get(relay, path)
            #expect(status == 404, "\(path)")
            #expect(!String(decoding: body, as: UTF8.self).contains("export const secret"), "\(path)")
        }
        await relay.terminate()
    }

    /// The Debian package's layout: `/usr/bin/tether` finds the page in `/usr/share/tether/dashboard`
    /// (here a `bin/` and `share/tether/dashboard/` of a temporary prefix, the binary hard-linked in).
    @Test func anInstalledBinaryFindsThePageInShareTether() async throws {
        let prefix = try temporaryDirectory(prefix: "prefix")
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Dashboard")
        let share = prefix.appendingPathComponent("share/tether/dashboard")
        try FileManager.default.createDirectory(at: share.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: share)
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        let installed = prefix.appendingPathComponent("bin/tether")
        // A hard link where the file systems allow it (a symlink would resolve back), else a copy.
        if link(RelayProcess.binary.path, installed.path) != 0 {
            try FileManager.default.copyItem(at: RelayProcess.binary, to: installed)
        }
        defer { try? FileManager.default.removeItem(at: prefix) }
        // The launcher runs the installed binary in place of the one under test, same arguments.
        let relay = try await RelayProcess.start(arguments: ["--store", "memory"], launcher: ["/bin/sh", "-c", "exec \"\(installed.path)\" \"$@\""])
        let (status, body, type) = try await Self.get(relay, "/")
        #expect(status == 200 && type?.hasPrefix("text/html") == true)
        #expect(String(decoding: body, as: UTF8.self).contains("connection-badge"))
        #expect(try await Self.get(relay, "/dashboard/js/dashboard.js").0 == 200)
        await relay.terminate()
    }

    /// GET with the raw path sent as is (URLSession would normalise `..`).
    static func get(_ relay: RelayProcess, _ path: String) async throws -> (Int, Data, String?) {
        let result = try await Command.run("/usr/bin/curl", ["-s", "--path-as-is", "-o", "-", "-w", "\n%{http_code} %{content_type}", relay.baseURL + path])
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let trailer = lines.removeLast().split(separator: " ", maxSplits: 1)
        let status = Int(trailer.first ?? "") ?? 0
        let type = trailer.count > 1 ? String(trailer[1]) : nil
        return (status, Data(lines.joined(separator: "\n").utf8), type)
    }
}
