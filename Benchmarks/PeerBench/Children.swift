import Foundation
import Synchronization

/// The processes this run started (servers and subscriber processes), so that an interrupted run
/// (SIGINT, SIGTERM) kills them instead of leaving brokers behind. Guarded by a `Mutex`: servers
/// are registered from the coordinator thread, the signal is handled on a dispatch queue.
enum Children {
    private static let pids = Mutex<Set<Int32>>([])
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func started(_ pid: Int32) { pids.withLock { _ = $0.insert(pid) } }
    static func ended(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }

    /// Call once, from the main thread, before starting anything.
    static func killOnInterrupt() {
        for signal in [SIGINT, SIGTERM] {
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
                FileHandle.standardError.write(Data("peer-bench: interrupted; killed the servers and subscribers it started\n".utf8))
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}
