import Foundation
import NIOCore

/// Turns the socket error of a failed bind into a line that names the address, the cause and what
/// to do, instead of NIO's `bind(descriptor:ptr:bytes:) ... (errno: 98)`.
enum ListenFailure {
    static func explain(_ error: any Error, host: String, port: Int) -> RelayStartError? {
        guard let error = error as? IOError, error.description.contains("bind") else { return nil }
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        switch error.errnoCode {
        case EADDRINUSE:
            return RelayStartError(
                "cannot listen on \(address): the address is already in use (another process listens there: find it with `ss -ltnp 'sport = :\(port)'`, stop it, or choose another --listen)",
                exitCode: 1
            )
        case EADDRNOTAVAIL:
            return RelayStartError("cannot listen on \(address): no network interface of this machine has the address \(host); use one it has, 127.0.0.1, or 0.0.0.0 for all")
        case EACCES:
            return RelayStartError("cannot listen on \(address): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose a port of 1024 or more, or use socket activation)")
        default:
            return RelayStartError("cannot listen on \(address): \(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))", exitCode: 1)
        }
    }
}
