import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Puts a finished file in place so that after a crash or power loss either the old state or the
/// whole new file is there, never a part: fsync the file, `rename(2)` it (atomic within a
/// directory), fsync the directory. Foundation's `moveItem` neither syncs nor replaces atomically.
enum DurableFile {
    static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw failure("open", path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("fsync", path) }
    }

    /// Renames `source` to `destination` and makes the rename durable.
    static func rename(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else { throw failure("rename to \(destination)", source) }
        try sync((destination as NSString).deletingLastPathComponent.isEmpty ? "." : (destination as NSString).deletingLastPathComponent)
    }

    static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// Size and modification time to the nanosecond: any write to the file changes it.
    static func stamp(_ path: String) -> [Int]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino)]
    }

    private static func failure(_ operation: String, _ path: String) -> SQLiteStoreError {
        SQLiteStoreError(.unavailable, "\(operation) of \(path) failed: \(String(cString: strerror(errno)))")
    }
}
