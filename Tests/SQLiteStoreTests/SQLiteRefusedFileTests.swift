import Foundation
import GRDB
import Testing
import TetherCore
import TetherTesting
@testable import SQLiteStore

/// docs/OPERATIONS.md, "A damaged database": `tether serve` refuses a file that is not a whole
/// Tether log with exit status 2 and a line naming it, and leaves it byte for byte as it was:
/// same SHA-256 and size, same journal mode, no `-wal`, `-shm` or `-journal` created.
@Suite("SQLite files the relay refuses", .serialized)
struct SQLiteRefusedFileTests {
    enum Damage: String, CaseIterable, Sendable {
        /// Another application's database, rollback-journal mode (SQLite's default).
        case foreignDatabase
        /// Another application's database in WAL mode, closed cleanly (no `-wal` beside it).
        case foreignWALDatabase
        /// A Tether log cut in the middle of a page.
        case truncatedMidPage
        /// A Tether log missing its last pages.
        case truncatedAtAPage
        /// A Tether log with a page overwritten by garbage.
        case garbledPage
        /// An empty WAL-mode database: what a relay's main file was before its first checkpoint.
        case emptyWALModeFile
        /// A file of 0 bytes.
        case emptyFile
        /// A Tether log written by a newer schema than this build reads.
        case newerSchema

        var message: String {
            switch self {
            case .foreignDatabase, .foreignWALDatabase, .newerSchema: "is not a Tether log"
            case .truncatedMidPage, .truncatedAtAPage, .garbledPage: "is damaged or not an SQLite database"
            case .emptyWALModeFile, .emptyFile: "do not make one whole Tether log"
            }
        }
    }

    @Test(arguments: Damage.allCases)
    func serveRefusesTheFileAndLeavesItByteForByte(_ damage: Damage) async throws {
        let directory = try temporaryDirectory(prefix: "tether-refused")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tether.sqlite")
        try await Self.make(damage, at: file.path)
        let before = try Data(contentsOf: file)
        let digest = try await Self.sha256(file)

        let result = try await TetherCommand.serveExpectingExit(stateDirectory: directory)
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains(file.path) && result.output.contains(damage.message), "\(result.output)")
        #expect(result.output.contains("left untouched"), "\(result.output)")
        let after = try Data(contentsOf: file)
        #expect(try await Self.sha256(file) == digest && after.count == before.count, "the refused file changed")
        #expect(Self.journalMode(after) == Self.journalMode(before), "the journal mode changed")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files == ["tether.sqlite"], "files were created beside it: \(files)")
    }

    static func make(_ damage: Damage, at path: String) async throws {
        switch damage {
        case .foreignDatabase:
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)")
            }
            try queue.close()
        case .foreignWALDatabase:
            let pool = try DatabasePool(path: path)
            try await pool.write { db in try db.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')") }
            try pool.close()
        case .emptyWALModeFile:
            try DatabasePool(path: path).close()
        case .emptyFile:
            FileManager.default.createFile(atPath: path, contents: Data())
        case .newerSchema:
            let store = SQLiteBufferStore(configuration: .init(path: path))
            _ = try await store.open()
            try await store.close()
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in try db.execute(sql: "UPDATE meta SET schema_version = 99") }
            try queue.close()
        case .truncatedMidPage, .truncatedAtAPage, .garbledPage:
            let store = SQLiteBufferStore(configuration: .init(path: path))
            _ = try await store.open()
            _ = try await store.append((0..<400).map { EventDraft(topic: "t", data: Array("{\"n\":\($0),\"pad\":\"\(String(repeating: "x", count: 300))\"}".utf8)) })
            try await store.close()
            let size = try #require(DurableFile.size(path))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            switch damage {
            case .truncatedMidPage: try handle.truncate(atOffset: UInt64(size - 1000))
            case .truncatedAtAPage: try handle.truncate(atOffset: UInt64(size - 3 * 4096))
            default:
                try handle.seek(toOffset: 4096 * 2)
                try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
            }
        }
        for suffix in ["-wal", "-shm", "-journal"] { #expect(!FileManager.default.fileExists(atPath: path + suffix)) }
    }

    static func sha256(_ file: URL) async throws -> String {
        let result = try await Command.run("/usr/bin/sha256sum", [file.path])
        return String(result.output.prefix(64))
    }

    /// The header's read/write versions: 1 is a rollback journal, 2 is WAL; nil for no header.
    static func journalMode(_ data: Data) -> [UInt8]? {
        data.count >= 20 ? [data[18], data[19]] : nil
    }
}
