import Foundation

/// Engine.IO v4 long-polling by hand, for tests that need to do what no well-behaved Socket.IO
/// client does (open sessions and abandon them, announce attachments, skip CONNECT).
public struct EngineIOPolling: Sendable {
    public let relay: RelayProcess
    public let path: String

    public init(_ relay: RelayProcess, path: String = "/socket.io/") {
        self.relay = relay
        self.path = path
    }

    /// The result of a handshake: the status, the session id when one was opened, and the body.
    public struct Handshake: Sendable {
        public var status: Int
        public var sid: String?
        public var body: String
    }

    /// `GET ?EIO=4&transport=polling` with `headers`.
    public func handshake(headers: [String: String] = [:], query: String = "") async throws -> Handshake {
        let (status, data) = try await relay.http("GET", "\(path)?EIO=4&transport=polling\(query)", headers: headers)
        let body = String(decoding: data, as: UTF8.self)
        var sid: String?
        if status == 200, body.hasPrefix("0"), let open = try? JSONSerialization.jsonObject(with: Data(body.dropFirst().utf8)) as? [String: Any] {
            sid = open["sid"] as? String
        }
        return Handshake(status: status, sid: sid, body: body)
    }

    /// POSTs a payload (packets separated by `\u{1e}`) to session `sid`; returns the status.
    @discardableResult
    public func post(_ sid: String, _ payload: String) async throws -> Int {
        try await relay.http("POST", "\(path)?EIO=4&transport=polling&sid=\(sid)", body: Data(payload.utf8), headers: ["Content-Type": "text/plain;charset=UTF-8"]).status
    }

    /// One polling GET for session `sid`: the status and the payload.
    public func poll(_ sid: String) async throws -> (status: Int, body: String) {
        let (status, data) = try await relay.http("GET", "\(path)?EIO=4&transport=polling&sid=\(sid)")
        return (status, String(decoding: data, as: UTF8.self))
    }

    /// Polls `sid` until a payload contains `text` or the session is gone (a non-200 answer), at
    /// most `limit` polls. Returns everything received and the last status.
    public func poll(_ sid: String, until text: String, limit: Int = 20) async throws -> (status: Int, received: String) {
        var received = ""
        for _ in 0..<limit {
            let (status, body) = try await poll(sid)
            guard status == 200 else { return (status, received) }
            received += body + "\u{1e}"
            if received.contains(text) { return (status, received) }
        }
        return (200, received)
    }

    /// `count` handshakes pipelined on keep-alive connections (`batch` per connection); the
    /// sessions opened are abandoned. Returns how many answers had each status.
    public func flood(count: Int, batch: Int = 500, headers: [String] = []) async throws -> [Int: Int] {
        var statuses: [Int: Int] = [:]
        var sent = 0
        while sent < count {
            let n = min(batch, count - sent)
            let connection = try RawTCPConnection(port: relay.port)
            defer { connection.close() }
            var request = "GET \(path)?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:\(relay.port)\r\n"
            for header in headers { request += header + "\r\n" }
            request += "\r\n"
            try await connection.send(String(repeating: request, count: n))
            var answers = 0
            let (bytes, _) = await connection.read(timeout: 60) { bytes in
                answers = Self.statusLines(bytes).count
                return answers >= n
            }
            for status in Self.statusLines(bytes) { statuses[status, default: 0] += 1 }
            sent += n
        }
        return statuses
    }

    /// The statuses of the `HTTP/1.1 NNN` lines in `bytes`.
    static func statusLines(_ bytes: [UInt8]) -> [Int] {
        let marker = Array("HTTP/1.1 ".utf8)
        var statuses: [Int] = []
        var index = 0
        while index + marker.count + 3 <= bytes.count {
            if bytes[index] == marker[0], Array(bytes[index..<(index + marker.count)]) == marker {
                let digits = bytes[(index + marker.count)..<(index + marker.count + 3)]
                if let status = Int(String(decoding: digits, as: UTF8.self)) { statuses.append(status) }
                index += marker.count
            } else {
                index += 1
            }
        }
        return statuses
    }
}
