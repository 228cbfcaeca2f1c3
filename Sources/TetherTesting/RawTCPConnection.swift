import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to 127.0.0.1 for hostile-input tests: send exact bytes (invalid HTTP,
/// half requests, trickled bytes), read what comes back. Non-blocking, so awaiting a read never
/// blocks a cooperative thread; every wait is bounded by a timeout.
public final class RawTCPConnection: @unchecked Sendable {
    // @unchecked: `fd` is set once in init and closed once (guarded by `lock`); the socket calls
    // themselves are thread-safe.
    private var fd: Int32
    private let lock = NSLock()

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RelayProcessError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw RelayProcessError("connect to 127.0.0.1:\(port) failed: errno \(code)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Sends all of `bytes`. Throws if the peer closed the connection.
    public func send(_ bytes: [UInt8], timeout: Double = 10) async throws {
        var offset = 0
        let deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK, Date() < deadline {
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw RelayProcessError("send failed after \(offset) of \(bytes.count) bytes: errno \(errno)")
            }
        }
    }

    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// Reads until `done` says the bytes so far are enough, the peer closes, or `timeout` passes.
    /// Returns what arrived and whether the peer closed.
    public func read(timeout: Double = 10, until done: ([UInt8]) -> Bool = { _ in false }) async -> (bytes: [UInt8], closed: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                bytes += buffer[0..<count]
                if done(bytes) { return (bytes, false) }
            } else if count == 0 {
                return (bytes, true)
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                try? await Task.sleep(for: .milliseconds(5))
            } else {
                return (bytes, true)  // reset
            }
        }
        return (bytes, false)
    }

    /// Reads one HTTP response head (and as much body as `Content-Length` says, if any).
    public func readHTTPResponse(timeout: Double = 10) async -> (status: Int, head: String, body: String, closed: Bool) {
        let (bytes, closed) = await read(timeout: timeout) { bytes in
            guard let end = Self.headEnd(bytes) else { return false }
            let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
            if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
               let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
                return bytes.count >= end + 4 + length
            }
            return head.hasPrefix("http/1.1 101") || !head.contains("transfer-encoding: chunked") || bytes.suffix(5) == Array("0\r\n\r\n".utf8)
        }
        guard let end = Self.headEnd(bytes) else { return (0, String(decoding: bytes, as: UTF8.self), "", closed) }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, head, String(decoding: bytes[(end + 4)...], as: UTF8.self), closed)
    }

    public static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// A WebSocket upgrade request for `path` (the key is fixed; tests do not check the accept hash).
    public static func webSocketUpgrade(_ path: String, port: Int, extraHeaders: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extraHeaders)\r\n"
    }

    /// A client WebSocket frame (opcode 0 = continuation, 1 = text, 2 = binary, 8 = close,
    /// 9 = ping, 10 = pong), masked as RFC 6455 requires unless `masked` is false.
    /// `reservedBits` (0–7: RSV1 = 4, RSV2 = 2, RSV3 = 1) lets a test break the framing rules.
    public static func webSocketFrame(_ payload: [UInt8], opcode: UInt8 = 1, fin: Bool = true, masked: Bool = true, reservedBits: UInt8 = 0) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | (reservedBits & 0x07) << 4 | (opcode & 0x0F)]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(maskBit | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard masked else { return frame + payload }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    /// A client close frame with `code` (nil: no payload) and `reason` bytes after it.
    public static func webSocketClose(_ code: UInt16?, reason: [UInt8] = []) -> [UInt8] {
        webSocketFrame(code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + reason } ?? reason, opcode: 8)
    }

    /// The status code of the first complete server close frame in `bytes` (0 for one without a
    /// payload), or nil if none arrived yet.
    public static func serverCloseCode(_ bytes: [UInt8]) -> Int? {
        guard let close = serverFrames(bytes).first(where: { $0.opcode == 8 }) else { return nil }
        return close.payload.count >= 2 ? Int(close.payload[0]) << 8 | Int(close.payload[1]) : 0
    }

    /// The payloads of the unmasked server text and close frames in `bytes` (after a 101 head), as text.
    public static func serverTextFrames(_ bytes: [UInt8]) -> [String] {
        serverFrames(bytes).filter { $0.opcode == 1 || $0.opcode == 8 }.map { String(decoding: $0.payload, as: UTF8.self) }
    }

    /// The complete unmasked server frames in `bytes` (after a 101 head).
    public static func serverFrames(_ bytes: [UInt8]) -> [(opcode: UInt8, payload: [UInt8])] {
        var frames: [(opcode: UInt8, payload: [UInt8])] = []
        var index = 0
        while index + 2 <= bytes.count {
            let opcode = bytes[index] & 0x0F
            var length = Int(bytes[index + 1] & 0x7F)
            var start = index + 2
            if length == 126 {
                guard start + 2 <= bytes.count else { break }
                length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                start += 2
            } else if length == 127 {
                guard start + 8 <= bytes.count else { break }
                length = bytes[start..<(start + 8)].reduce(0) { $0 << 8 | Int($1) }
                start += 8
            }
            guard start + length <= bytes.count else { break }
            frames.append((opcode, Array(bytes[start..<(start + length)])))
            index = start + length
        }
        return frames
    }
}

extension RawTCPConnection {
    /// Reads a WebSocket the relay upgrades and then refuses (its upgrade already sent): its text
    /// frames and close code, from the raw bytes, so no client library's handling of frames that
    /// arrive with the 101 response stands between the test and what the relay sent.
    public func refusedWebSocket(timeout: Double = 10) async -> (frames: [String], closeCode: Int?) {
        let (bytes, _) = await read(timeout: timeout) { bytes in
            guard let end = RawTCPConnection.headEnd(bytes) else { return false }
            return RawTCPConnection.serverFrames(Array(bytes[(end + 4)...])).contains { $0.opcode == 8 }
        }
        guard let end = RawTCPConnection.headEnd(bytes) else { return ([], nil) }
        let frames = RawTCPConnection.serverFrames(Array(bytes[(end + 4)...]))
        let texts = frames.filter { $0.opcode == 1 }.map { String(decoding: $0.payload, as: UTF8.self) }
        let close = frames.first { $0.opcode == 8 && $0.payload.count >= 2 }
        return (texts, close.map { Int($0.payload[0]) << 8 | Int($0.payload[1]) })
    }

    /// Sends a hello on an upgraded WebSocket and waits for the welcome: proof that the relay
    /// admitted the connection and holds its slot (the 101 comes first, admission after it).
    public func helloUntilWelcome(timeout: Double = 10) async throws -> Bool {
        try await send(RawTCPConnection.webSocketFrame(Array(#"{"type":"hello"}"#.utf8)))
        let (bytes, _) = await read(timeout: timeout) { String(decoding: $0, as: UTF8.self).contains(#""welcome""#) }
        return String(decoding: bytes, as: UTF8.self).contains(#""welcome""#)
    }
}
