import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization
import TetherCore
import struct Foundation.Date

/// The connection's outbound side besides events: pings, single frames, and the one error
/// frame and close code that end it.
extension WebSocketConnection {
    // MARK: Pinger

    func ping(_ session: Session) async {
        var id: UInt64 = 0
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.pingInterval)
            } catch {
                return
            }
            id += 1
            let sentID = id
            pings.withLock { book in
                // Unanswered pings are forgotten after a few newer ones.
                book[sentID] = .now
                if book.count > 8, let oldest = book.keys.min() { book[oldest] = nil }
            }
            guard await send(RelayFrame.ping(id: sentID)) else { return }
        }
    }

    // MARK: Sending

    /// Sends one text frame. Returns `false` if the connection is closing or closed.
    func send(_ bytes: [UInt8]) async -> Bool {
        guard !closed.load(ordering: .acquiring) else { return false }
        do {
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: bytes))))
            return true
        } catch {
            endReason.withLock { $0 = $0 ?? "connection lost while writing" }
            return false
        }
    }

    /// Sends the error frame and the close code it maps to, once; counts client-caused errors.
    func fail(_ error: RelayError) async {
        let code = WebSocketCloseCode.closing(error.code)
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        // Client-caused: the close-code table says the same request would not succeed again
        // (anything but a plain reconnect), or the client said nothing in time.
        if error.code != .superseded, code.rule.action != .reconnect || error.code == .helloTimeout { relay.counters.countRefused(error.code) }
        endReason.withLock { $0 = $0 ?? "\(error.code): \(error.message)" }
        logger.debug("closing WebSocket", metadata: ["code": "\(code)", "error": "\(error)"])
        do {
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: RelayFrame.error(error, close: code)))))
            try await outbound.close(WebSocketErrorCode(codeNumber: Int(code.code)), reason: error.code.rawValue)
        } catch {
            // The peer is already gone.
        }
    }
}
