import CSystemd
import Glibc

/// Listening sockets passed by the service manager (`LISTEN_FDS`, `LISTEN_PID`; see
/// sd_listen_fds(3)), for socket activation with `tether.socket`.
public enum SocketActivation {
    /// The inherited descriptors (3, 4, …), or an empty list when nothing was passed to this
    /// process. Unsets `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` so children do not inherit them.
    public static func listeningDescriptors() -> [Int32] {
        let count = sd_listen_fds(1)
        guard count > 0 else { return [] }
        return (0..<count).map { SD_LISTEN_FDS_START + $0 }
    }

    /// Whether `descriptor` is a listening stream socket (what the HTTP server can serve).
    public static func isListeningStreamSocket(_ descriptor: Int32) -> Bool {
        sd_is_socket(descriptor, 0, Int32(SOCK_STREAM.rawValue), 1) > 0
    }
}
