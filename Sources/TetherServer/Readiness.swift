import Synchronization

/// Whether the HTTP listener is bound (set once, from Hummingbird's `onServerRunning`).
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)

    var isReady: Bool { ready.load(ordering: .acquiring) }

    func markReady() { ready.store(true, ordering: .releasing) }
}
