public import ServiceLifecycle
import Synchronization

/// Keeps a relay's view of a shared log current: whenever the ``SharedLogStore`` reports a new
/// head (any relay's commit), it reads the new range and fans it out to this relay's subscribers
/// exactly like a local append (``FanOut/catchUp(to:pageSize:)``).
///
/// The store's head updates are the main path. A slow safety poll (`safetyPoll`, a few seconds)
/// asks the store for its head as well, so a lost notification delays delivery by at most that
/// long instead of until the next commit. A failed read is logged once and retried on the next
/// update or poll; the relay keeps serving what it has meanwhile.
///
/// It also carries the rest of what relays sharing one store owe each other: it closes this
/// relay's connections of a client that connected again on another relay (the store's
/// ``SharedLogStore/connectionClaims()``), and saves attached clients' acknowledged positions every
/// `positionSave` (0.25 s), so that a resume on another relay without `last_sequence` re-sends at
/// most what the client acknowledged in that time plus its unacknowledged window.
///
/// Returns when graceful shutdown starts or the store's update stream ends.
public struct LogFollower: Service {
    public let relay: Relay
    public let store: any SharedLogStore
    public let safetyPoll: Duration
    public let positionSave: Duration

    public init(relay: Relay, store: any SharedLogStore, safetyPoll: Duration = .seconds(3), positionSave: Duration = .milliseconds(250)) {
        self.relay = relay
        self.store = store
        self.safetyPoll = safetyPoll
        self.positionSave = positionSave
    }

    public func run() async throws {
        // The newest head heard of; `wakes` only says "look again", so bursts coalesce.
        let target = NewestHead()
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let updates = store.headUpdates()
        let claims = store.connectionClaims()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await head in updates {
                        target.raise(to: head)
                        wake.yield()
                    }
                    wake.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: safetyPoll)
                        if let head = try? await store.state().head {
                            target.raise(to: head)
                            wake.yield()
                        }
                    }
                }
                group.addTask {
                    for await claim in claims { relay.supersede(claim) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: positionSave)
                        await relay.saveClientPositions()
                    }
                }
                var failing = false
                for await _ in wakes {
                    let goal = target.value
                    do {
                        try await relay.fanOut.catchUp(to: goal)
                        if failing {
                            relay.logger.notice("shared log readable again; fan-out caught up", metadata: ["head": "\(relay.logState.head)"])
                            failing = false
                        }
                    } catch {
                        if Task.isCancelled { break }
                        if !failing {
                            relay.logger.error(
                                "could not read the shared log; subscribers keep what they have and catch up when it answers",
                                metadata: ["error": "\(error)", "head": "\(relay.logState.head)", "target": "\(goal)"]
                            )
                            failing = true
                        }
                    }
                }
                group.cancelAll()
            }
        }
    }
}

/// The newest head a ``LogFollower`` heard of, shared by its tasks.
private final class NewestHead: Sendable {
    private let head = Atomic<UInt64>(0)
    var value: UInt64 { head.load(ordering: .acquiring) }
    func raise(to value: UInt64) { head.max(value, ordering: .acquiringAndReleasing) }
}
