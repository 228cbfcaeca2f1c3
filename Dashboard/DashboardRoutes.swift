public import TetherRouting
public import Hummingbird
import Foundation

/// Serves the browser dashboard: `GET /` is `index.html`, `GET /dashboard/<path>` the ES modules
/// and stylesheets beside it.
///
/// The files are this target's resources (`Dashboard/`, copied by SwiftPM next to the binary as
/// `tether_TetherDashboard.resources`; see ``locateFiles()``). They are read once, at registration, into a table keyed
/// by relative path; a request can only name an entry of that table, so no request path reaches
/// the file system (no directory traversal). A file whose real path (symlinks resolved) is outside
/// the folder is left out of the table. Anything else is a JSON 404.
public struct DashboardRoutes: Sendable {
    /// One servable file: its bytes and its media type.
    struct Asset: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    let assets: [String: Asset]

    public init() {
        self.init(directory: Self.locateFiles())
    }

    /// `$TETHER_DASHBOARD_DIR` (e.g. the source `Dashboard/`, to edit the page without a
    /// rebuild), else the resource bundle SwiftPM puts beside the executable, else
    /// `../share/tether/dashboard` from the executable's folder (the Debian package's
    /// `/usr/bin/tether` and `/usr/share/tether/dashboard`). Not `Bundle.module`:
    /// its accessor stops the process when the bundle is missing (a binary copied elsewhere),
    /// and a relay without its dashboard should still relay.
    static func locateFiles() -> URL? {
        let fileManager = FileManager.default
        if let override = ProcessInfo.processInfo.environment["TETHER_DASHBOARD_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [executable, Bundle.main.executableURL?.resolvingSymlinksInPath()].compactMap { $0 }
        for binary in candidates {
            let folder = binary.deletingLastPathComponent()
            for directory in [
                folder.appendingPathComponent("tether_TetherDashboard.resources"),
                folder.deletingLastPathComponent().appendingPathComponent("share/tether/dashboard"),
            ] where fileManager.fileExists(atPath: directory.appendingPathComponent("index.html").path) {
                return directory
            }
        }
        return nil
    }

    init(directory: URL?) {
        var table: [String: Asset] = [:]
        if let directory {
            let root = Self.realPath(directory.path) ?? directory.standardizedFileURL.resolvingSymlinksInPath().path
            let walker = FileManager.default.enumerator(atPath: root)
            while let relative = walker?.nextObject() as? String {
                // What the path really names, symlinks resolved: a link inside the folder to a
                // file outside it (or a linked directory) is not part of the dashboard.
                guard let path = Self.realPath(root + "/" + relative), path.hasPrefix(root + "/") else { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                      let type = Self.contentType(forPath: relative),
                      let data = FileManager.default.contents(atPath: path) else { continue }
                table[relative] = Asset(bytes: Array(data), contentType: type)
            }
        }
        self.assets = table
    }

    /// `realpath(3)`: absolute, every symlink and `..` resolved; `nil` when the path does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The media type for the file types the dashboard ships; other files are not served.
    static func contentType(forPath path: String) -> String? {
        switch path.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: nil
        }
    }

    public func register(on router: TetherRouter) {
        router.get("/") { _, _ in try self.response(for: "index.html") }
        router.get("/dashboard/**") { _, context in
            let components = context.parameters.getCatchAll()
            // Only plain names: no "..", no hidden files, no empty segments.
            guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") }) else {
                throw HTTPError(.notFound)
            }
            return try self.response(for: components.joined(separator: "/"))
        }
    }

    func response(for path: String) throws -> Response {
        guard let asset = assets[path] else { throw HTTPError(.notFound) }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        // The page is small and changes with the binary; always revalidate.
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
