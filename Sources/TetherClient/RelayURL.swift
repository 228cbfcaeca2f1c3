import Foundation
import HummingbirdWSClient
import NIOCore
import NIOPosix

/// Where a relay is, as people write it: `ws://host:8765/v1/ws`, but also `http://host:8765/`
/// (the address in a browser), `https://relay.example` or a bare `host:port`. Each becomes the
/// WebSocket endpoint, `ws(s)://host:port/v1/ws`.
public enum RelayURL {
    public static let defaultPath = "/v1/ws"

    public static func normalize(_ text: String) -> String {
        var url = text.trimmingCharacters(in: .whitespaces)
        let lowered = url.lowercased()
        if lowered.hasPrefix("http://") {
            url = "ws://" + url.dropFirst(7)
        } else if lowered.hasPrefix("https://") {
            url = "wss://" + url.dropFirst(8)
        } else if !lowered.hasPrefix("ws://"), !lowered.hasPrefix("wss://") {
            url = "ws://" + url
        }
        let schemeEnd = url.range(of: "://")!.upperBound
        let rest = url[schemeEnd...]
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return url + defaultPath }
        if rest[slash] == "?" { return String(url[..<slash]) + defaultPath + url[slash...] }
        let path = rest[slash...].prefix { $0 != "?" }
        if path == "/" { return String(url[..<slash]) + defaultPath + rest[slash...].dropFirst() }
        return url
    }

    /// A connection failure in words an operator can act on: "relay at ws://… refused the
    /// connection" instead of NIO's `SingleConnectionFailure(target: [IPv4]…)`.
    public static func describe(_ error: any Error, url: String) -> String {
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return "relay at \(url): the name \(error.host) could not be resolved (\(dns))"
            }
            let codes = error.connectionErrors.compactMap { ($0.error as? IOError)?.errnoCode }
            if codes.contains(ECONNREFUSED) {
                return "relay at \(url) refused the connection: nothing listens on \(error.host):\(error.port) (is `tether serve` running, on that address?)"
            }
            if let code = codes.first {
                return "relay at \(url) could not be reached: \(String(cString: strerror(code)))"
            }
            return "relay at \(url) could not be reached"
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return "relay at \(url) refused the connection (is `tether serve` running, on that address?)"
        }
        if let error = error as? WebSocketClientError, error == .webSocketUpgradeFailed {
            return "relay at \(url) answered HTTP but did not accept a WebSocket upgrade: is the path the relay's WebSocket endpoint (\(defaultPath)) and the websocket transport enabled?"
        }
        if error is ChannelError, "\(error)".contains("connectTimeout") {
            return "relay at \(url) did not answer the connection in time"
        }
        return "could not connect to the relay at \(url): \(error)"
    }
}
