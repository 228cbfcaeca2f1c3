import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fault-injecting TCP proxy on 127.0.0.1 for network-fault tests (the kernel here has no
/// netem): clients connect to ``port``, the proxy connects each to the target port and pumps
/// bytes both ways, applying the current ``Fault``; ``dropAll()`` cuts every connection in the
/// middle of whatever it is forwarding.
///
/// Each pump is a dedicated thread doing blocking socket I/O (never a cooperative thread). Every
/// receive times out after 50 ms, so faults and ``stop()`` take effect promptly.
public final class FaultProxy: @unchecked Sendable {
    // @unchecked: mutable state (`fault`, `links`, `stopped`) is only touched under `lock`.
    public enum Fault: Sendable, Equatable {
        /// Forward at once.
        case none
        /// Hold each chunk this long before forwarding it (both directions).
        case delay(milliseconds: Int)
        /// Forward at most this many bytes per second in each direction.
        case bandwidth(bytesPerSecond: Int)
        /// Forward nothing, read nothing, close nothing: the peers see silence until the fault
        /// is cleared, and new connections hang in the same way.
        case blackhole
    }

    public let port: Int
    public let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var fault = Fault.none
    private var links: [Link] = []
    private var stopped = false
    private var cut = 0
    private var accepted = 0

    /// A client connection and its upstream connection.
    final class Link: @unchecked Sendable {
        // @unchecked: `dropRequested` and `closed` are only touched under the proxy's lock.
        let client: Int32
        let upstream: Int32
        var dropRequested = false
        var closed = false
        /// Pumps still running; the last one to end closes both descriptors, so no descriptor
        /// number is reused while the other pump may still read it.
        var pumps = 2
        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }
    }

    public init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw RelayProcessError("fault proxy could not listen on 127.0.0.1: errno \(code)")
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        Self.setReceiveTimeout(fd)
        listener = fd
        port = Int(UInt16(bigEndian: local.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Applies `fault` from now on, to every connection.
    public func set(_ fault: Fault) {
        lock.lock()
        self.fault = fault
        lock.unlock()
    }

    /// Cuts every open connection: each pump forwards half of the chunk it holds (so a frame is
    /// cut in the middle when one is in flight) and closes both sides; idle ones close at once.
    public func dropAll() {
        lock.lock()
        let current = links
        for link in current { link.dropRequested = true }
        lock.unlock()
        // An idle pump sees the request within one receive timeout (50 ms) and closes its link.
    }

    /// Connections open now (not counting those being cut).
    public var connectionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return links.filter { !$0.closed && !$0.dropRequested }.count
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let current = links
        lock.unlock()
        if !wasStopped {
            for link in current { close(link) }
        }
    }

    // MARK: Pumping

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private var currentFault: Fault {
        lock.lock()
        defer { lock.unlock() }
        return fault
    }

    private func acceptLoop() {
        while !isStopped {
            let client = accept(listener, nil, nil)
            if client < 0 { continue }  // timeout: check `stopped` again
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Glibc.close(upstream)
                Glibc.close(client)
                continue
            }
            for fd in [client, upstream] {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                Self.setReceiveTimeout(fd)
            }
            let link = Link(client: client, upstream: upstream)
            lock.lock()
            links.removeAll { $0.closed }
            links.append(link)
            accepted += 1
            lock.unlock()
            Thread { [self] in pump(link, from: client, to: upstream) }.start()
            Thread { [self] in pump(link, from: upstream, to: client) }.start()
        }
        Glibc.close(listener)
    }

    private func pump(_ link: Link, from source: Int32, to destination: Int32) {
        defer {
            lock.lock()
            link.pumps -= 1
            let last = link.pumps == 0
            lock.unlock()
            if last {
                Glibc.close(link.client)
                Glibc.close(link.upstream)
            }
        }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            lock.lock()
            let (closed, drop, fault) = (link.closed || stopped, link.dropRequested, self.fault)
            lock.unlock()
            if closed { return }
            if drop {
                countCut(link)
                return close(link)
            }
            if fault == .blackhole {
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            var limit = buffer.count
            if case .bandwidth(let rate) = fault { limit = max(1, min(buffer.count, rate / 20)) }
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, limit, 0) }
            if count == 0 { return close(link) }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                return close(link)
            }
            var chunk = Array(buffer[0..<count])
            switch currentFault {
            case .delay(let milliseconds): Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
            case .bandwidth: Thread.sleep(forTimeInterval: 0.05)
            case .blackhole:
                while currentFault == .blackhole, !isStopped { Thread.sleep(forTimeInterval: 0.02) }
            case .none: break
            }
            lock.lock()
            let dropNow = link.dropRequested
            lock.unlock()
            if dropNow {
                chunk = Array(chunk.prefix(max(1, chunk.count / 2)))  // cut mid-frame
            }
            if dropNow { countCut(link) }
            if !sendAll(chunk, to: destination) || dropNow { return close(link) }
        }
    }

    private func countCut(_ link: Link) {
        lock.lock()
        if !link.closed { cut += 1 }
        lock.unlock()
    }

    /// Connections accepted, and connections cut by ``dropAll()``, so far.
    public var counts: (accepted: Int, cut: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (accepted, cut)
    }

    private func sendAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 {
                if sent < 0, errno == EAGAIN || errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    private func close(_ link: Link) {
        lock.lock()
        let already = link.closed
        link.closed = true
        lock.unlock()
        guard !already else { return }
        // shutdown wakes both pumps; the last pump to end closes the descriptors.
        shutdown(link.client, Int32(SHUT_RDWR))
        shutdown(link.upstream, Int32(SHUT_RDWR))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func setReceiveTimeout(_ fd: Int32) {
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
}
