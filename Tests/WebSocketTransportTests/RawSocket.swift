import Foundation
import Testing
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A bare WebSocket connection for tests: send any frame (text, binary, oversized), read frames
/// as JSON objects, and see the close code the relay chose. No protocol logic of its own.
final class RawSocket: Sendable {
    enum Outbound: Sendable {
        case text(String)
        case binary([UInt8])
        case close
    }

    private struct State {
        var received: [String] = []
        var cursor = 0
        var closeCode: Int?
        var ended = false
    }

    private let state = Mutex(State())
    var closeCode: Int? { state.withLock { $0.closeCode } }
    private var ended: Bool { state.withLock { $0.ended } }
    private let outbound: AsyncStream<Outbound>.Continuation

    private init(outbound: AsyncStream<Outbound>.Continuation) {
        self.outbound = outbound
    }

    /// Opens `ws://127.0.0.1:<port>/v1/ws`. The connection runs until either side closes it.
    static func connect(port: Int, path: String = "/v1/ws") -> RawSocket {
        let (frames, sink) = AsyncStream.makeStream(of: Outbound.self)
        let socket = RawSocket(outbound: sink)
        var logger = Logger(label: "test.raw-socket")
        logger.logLevel = .critical
        let client = WebSocketClient(
            url: "ws://127.0.0.1:\(port)\(path)",
            configuration: WebSocketClientConfiguration(maxFrameSize: 1 << 24, autoPing: .disabled),
            logger: logger
        ) { inbound, writer, _ in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await frame in frames {
                        switch frame {
                        case .text(let text): try? await writer.write(.text(text))
                        case .binary(let bytes): try? await writer.write(.binary(ByteBuffer(bytes: bytes)))
                        case .close: try? await writer.close(.normalClosure, reason: nil)
                        }
                    }
                }
                do {
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let text) = message { socket.append(text) }
                    }
                } catch {}
                group.cancelAll()
            }
        }
        Task {
            let close = try? await client.run()
            let code = close.map { frame -> Int in
                var buffer = ByteBuffer()
                buffer.write(webSocketErrorCode: frame.closeCode)
                return Int(buffer.readInteger(as: UInt16.self) ?? 0)
            }
            socket.finish(code)
            sink.finish()
        }
        return socket
    }

    private func append(_ text: String) { state.withLock { $0.received.append(text) } }

    private func finish(_ code: Int?) {
        state.withLock {
            $0.closeCode = code
            $0.ended = true
        }
    }

    func send(_ text: String) { outbound.yield(.text(text)) }
    func send(json object: [String: Any]) {
        outbound.yield(.text(String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)))
    }
    func sendBinary(_ bytes: [UInt8]) { outbound.yield(.binary(bytes)) }
    func close() { outbound.yield(.close) }

    /// The next frame as a JSON object (relay pings are skipped unless `pings`), waiting up to
    /// `timeout` seconds.
    func next(timeout: Double = 20, pings: Bool = false) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while let text = state.withLock({ state -> String? in
                guard state.cursor < state.received.count else { return nil }
                state.cursor += 1
                return state.received[state.cursor - 1]
            }) {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
                if !pings, object["type"] as? String == "ping" { continue }
                return object
            }
            if ended { throw RawSocketError("connection closed (code \(closeCode.map(String.init) ?? "none")) while waiting for a frame") }
            guard Date() < deadline else { throw RawSocketError("no frame within \(timeout) s") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The next frame of `type`, failing on any other type in between.
    func expect(_ type: String, timeout: Double = 20) async throws -> [String: Any] {
        let frame = try await next(timeout: timeout)
        guard frame["type"] as? String == type else { throw RawSocketError("expected a \(type) frame, got \(frame)") }
        return frame
    }

    /// Events until `count` were read (gaps and other frames are collected separately).
    func events(_ count: Int, timeout: Double = 30) async throws -> (events: [[String: Any]], others: [[String: Any]]) {
        var events: [[String: Any]] = []
        var others: [[String: Any]] = []
        while events.count < count {
            let frame = try await next(timeout: timeout)
            if frame["type"] as? String == "event" { events.append(frame) } else { others.append(frame) }
        }
        return (events, others)
    }

    /// Waits until the relay closed the connection; returns its close code.
    func closed(timeout: Double = 20) async throws -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while !ended {
            guard Date() < deadline else { throw RawSocketError("connection still open after \(timeout) s") }
            try await Task.sleep(for: .milliseconds(5))
        }
        return closeCode
    }

    /// Sends hello and returns the welcome.
    func hello(_ fields: [String: Any] = [:]) async throws -> [String: Any] {
        var object = fields
        object["type"] = "hello"
        send(json: object)
        return try await expect("welcome")
    }
}

struct RawSocketError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
