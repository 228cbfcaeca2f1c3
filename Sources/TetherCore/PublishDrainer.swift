public import ServiceLifecycle

/// The relay's publish drainer as a `Service`: it takes the queued publishes in batches (group
/// commit), appends each batch to the store, moves the fan-out forward and answers the
/// producers, one append at a time.
///
/// Made by ``Relay/makePublishDrainer()`` before the relay takes its first publish; from then on
/// a publish only queues its request and wakes this service, so the relay's publishes wait for
/// its `run()`. `tether serve` holds it in the service group just after ``StoreLifetime`` (see
/// ``Relay/makeServices()``): it is stopped after everything that publishes, and before the
/// store is closed.
///
/// Returns when graceful shutdown starts or its task is cancelled, once it answered every
/// producer it holds (after a cancellation the store's appends may fail, and their producers
/// hear `store_unavailable`); the relay refuses publishes from then on.
public struct PublishDrainer: Service {
    public let relay: Relay

    init(relay: Relay) {
        self.relay = relay
    }

    public func run() async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await relay.drainAsService()
            } onCancel: {
                relay.stopTakingPublishes()
            }
        } onGracefulShutdown: {
            relay.stopTakingPublishes()
        }
    }
}

extension Relay {
    /// Hands the draining of publishes to the returned service, which must run (in a service
    /// group) for publishes to be answered. Call once, before the first publish: a relay used
    /// without services drains in tasks of its own instead.
    public func makePublishDrainer() -> PublishDrainer {
        queue.withLock { queue in
            precondition(!queue.servedByService, "a relay has one publish drainer")
            precondition(queue.drainerGeneration == 0 && queue.pending.isEmpty, "make the publish drainer before the relay's first publish")
            queue.servedByService = true
        }
        return PublishDrainer(relay: self)
    }

    /// The drainer service's loop: drains, then waits for the next publish, until publishing
    /// stopped and nothing is left. Then wakes whoever waits in ``close()``.
    func drainAsService() async {
        let first = queue.withLock { queue in
            defer { queue.serviceRunning = true }
            return !queue.serviceRunning
        }
        precondition(first, "a publish drainer runs once")
        while true {
            await drainPublishQueue()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = queue.withLock { queue in
                    guard queue.pending.isEmpty, !queue.closed else { return true }
                    queue.idleService = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if queue.withLock({ $0.closed && $0.pending.isEmpty }) { break }
        }
        let waiting = queue.withLock { queue in
            queue.serviceRunning = false
            defer { queue.closeWaiters.removeAll() }
            return queue.closeWaiters
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Refuses publishes from now on and wakes an idle drainer service, so that it drains what it
    /// holds and returns.
    func stopTakingPublishes() {
        let idle = queue.withLock { queue in
            queue.closed = true
            defer { queue.idleService = nil }
            return queue.idleService
        }
        idle?.resume()
    }

    /// Returns once no drainer runs: the drainer task, if any (cancelled with the caller: what it
    /// waits for fails and its producers hear 503), and the drainer service's loop.
    func drainersEnded() async {
        // `draining` is the truth (a leader sets it under the lock before it starts its task);
        // the handle may lag behind it for a moment, or name a drainer that already ended.
        while let drainer = queue.withLock({ $0.draining ? Optional($0.drainer) : nil }) {
            if let drainer {
                await withTaskCancellationHandler { await drainer.value } onCancel: { drainer.cancel() }
            }
            await Task.yield()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let running = queue.withLock { queue in
                if queue.serviceRunning { queue.closeWaiters.append(continuation) }
                return queue.serviceRunning
            }
            if !running { continuation.resume() }
        }
    }

    /// Appends the queued publishes, batch by batch, until the queue is empty, and answers each
    /// producer. One runs at a time (the drainer service, or one drainer task).
    func drainPublishQueue() async {
        while true {
            let batch = queue.withLock { queue in queue.takeBatch(maxEvents: configuration.maxAppendBatch) }
            guard !batch.isEmpty else { return }
            let drafts = batch.count == 1 ? batch[0].drafts : batch.flatMap(\.drafts)
            do {
                let outcome = try await store.append(drafts)
                apply(outcome)
                health.withLock { status in
                    if status.appendFailing { status = HealthStatus(lastProof: status.lastProof, lastError: nil) }
                }
                var offset = 0
                for pending in batch {
                    let sequences = Array(outcome.sequences[offset..<(offset + pending.drafts.count)])
                    offset += pending.drafts.count
                    pending.completion(.success(sequences))
                }
            } catch {
                // Only a store that knows the write never reached its commit may say "nothing was
                // stored"; a lost or late commit answer may still have committed.
                let unknown = (error as? any IndeterminateStoreFailure)?.mayHaveStored == true
                logger.error(
                    unknown
                        ? "buffer store append was not confirmed; producers were told 503, and the batch may have been stored: retries with the same producer id do not duplicate it"
                        : "buffer store append failed; producers were told 503 and nothing of the batch was stored",
                    metadata: ["error": "\(error)", "events": "\(drafts.count)"]
                )
                let failedAt = now()
                health.withLock {
                    $0.lastError = "store append failed: \(error)"
                    $0.appendFailing = true
                    $0.lastAppendFailure = failedAt
                }
                for pending in batch {
                    pending.completion(.failure(.storeUnavailable(error)))
                }
            }
        }
    }

    private func apply(_ outcome: AppendOutcome) {
        counters.published.add(UInt64(outcome.appended.count), ordering: .relaxed)
        counters.duplicatesSuppressed.add(UInt64(outcome.sequences.count - outcome.appended.count), ordering: .relaxed)
        counters.evicted.add(UInt64(outcome.evictedEvents), ordering: .relaxed)
        fanOut.apply(outcome)
    }
}
