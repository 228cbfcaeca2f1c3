public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `NOTIFY_SOCKET` for tests: an `AF_UNIX` datagram socket in a fresh temporary directory,
/// standing in for the service manager. Pass ``environment`` to the process under test and read
/// what it sent with ``drain()`` or ``waitFor(timeout:_:)``.
///
/// Reads are non-blocking and polled, so waiting never blocks a cooperative thread.
public final class NotifySocketListener: @unchecked Sendable {
    // @unchecked: `messages` is only touched with `lock` held; the descriptor is only read.
    public let path: String
    private let directory: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var received: [String] = []

    public init() throws {
        directory = NSTemporaryDirectory() + "tether-notify-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/notify.sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw RelayProcessError("socket(AF_UNIX, SOCK_DGRAM) failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw RelayProcessError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw RelayProcessError("bind(\(path)) failed: errno \(errno)") }
    }

    deinit {
        close(descriptor)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `NOTIFY_SOCKET` for the child's environment.
    public var environment: [String: String] { ["NOTIFY_SOCKET": path] }

    /// Reads every datagram waiting now and returns all messages received so far, in order.
    @discardableResult
    public func drain() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        lock.lock()
        defer { lock.unlock() }
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard count > 0 else { break }
            received.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
        return received
    }

    /// All messages so far, each split into its `KEY=value` lines.
    public var assignments: [[String]] {
        drain().map { $0.split(separator: "\n").map(String.init) }
    }

    /// How many messages so far contain the assignment `line` (for example `WATCHDOG=1`).
    public func count(_ line: String) -> Int {
        assignments.filter { $0.contains(line) }.count
    }

    /// Polls until a message satisfies `predicate`; returns it, or `nil` after `timeout` seconds.
    public func waitFor(timeout: Double = 15, _ predicate: (String) -> Bool) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let match = drain().first(where: predicate) { return match }
            try? await Task.sleep(for: .milliseconds(10))
        } while Date() < deadline
        return drain().first(where: predicate)
    }

    /// Polls until `count(line)` reaches `target`; returns the count reached.
    public func waitForCount(of line: String, atLeast target: Int, timeout: Double = 15) async -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while count(line) < target, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return count(line)
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel chose it).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RelayProcessError("socket failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard result == 0 else { throw RelayProcessError("bind/getsockname failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether a TCP connection to 127.0.0.1:`port` is accepted right now.
public func loopbackAcceptsConnections(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
