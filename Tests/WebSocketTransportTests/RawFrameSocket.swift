import Foundation
import Synchronization
import TetherTesting

/// A WebSocket on `/v1/ws` over a plain TCP connection, for frames no WebSocket library would
/// send (unmasked, reserved bits, stray continuations): the test writes frames byte for byte with
/// `RawTCPConnection.webSocketFrame` and reads the relay's frames as they arrive.
final class RawFrameSocket: Sendable {
    let connection: RawTCPConnection
    /// Everything received after the 101 response head.
    private let received = Mutex<[UInt8]>([])

    private init(connection: RawTCPConnection, received: [UInt8]) {
        self.connection = connection
        self.received.withLock { $0 = received }
    }

    /// Upgrades a new connection; throws unless the relay answers 101.
    static func open(port: Int) async throws -> RawFrameSocket {
        let connection = try RawTCPConnection(port: port)
        try await connection.send(RawTCPConnection.webSocketUpgrade("/v1/ws", port: port))
        let head = await connection.read { RawTCPConnection.headEnd($0) != nil }
        guard let end = RawTCPConnection.headEnd(head.bytes), head.bytes.starts(with: Array("HTTP/1.1 101".utf8)) else {
            throw RawSocketError("no 101 for the upgrade: \(String(decoding: head.bytes, as: UTF8.self))")
        }
        return RawFrameSocket(connection: connection, received: Array(head.bytes[(end + 4)...]))
    }

    /// The relay's text frames so far, and the payload of its close frame as text.
    var texts: [String] { RawTCPConnection.serverTextFrames(received.withLock { $0 }) }
    /// The status code of the relay's close frame, once one arrived (0 for an empty one).
    var closeCode: Int? { RawTCPConnection.serverCloseCode(received.withLock { $0 }) }

    /// Reads until `done(texts, closeCode)` holds, the relay closes the TCP connection, or
    /// `timeout` passes; returns whether `done` held.
    func read(timeout: Double = 10, until done: ([String], Int?) -> Bool) async -> Bool {
        let before = received.withLock { $0 }
        if done(RawTCPConnection.serverTextFrames(before), RawTCPConnection.serverCloseCode(before)) { return true }
        let more = await connection.read(timeout: timeout) { bytes in
            done(RawTCPConnection.serverTextFrames(before + bytes), RawTCPConnection.serverCloseCode(before + bytes))
        }
        let all = received.withLock { $0 += more.bytes; return $0 }
        return done(RawTCPConnection.serverTextFrames(all), RawTCPConnection.serverCloseCode(all))
    }
}
