import TetherCore
import Foundation
import PostgresNIO

/// The head listener: one dedicated connection (outside the pool, which would recycle it) that
/// `LISTEN`s on ``PostgresSchema/channel`` and hands each committed head to the
/// ``headUpdates()`` subscribers. When the connection breaks it reconnects with exponential
/// backoff (0.1 s doubling to 5 s) and, once listening again, reports the current head, so a
/// notification sent while it was away is made good.
extension PostgresBufferStore {
    func listen() async {
        var backoff = Duration.milliseconds(100)
        var outage: Date?
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(
                    on: PostgresClient.defaultEventLoopGroup.next(), configuration: configuration.connectionConfiguration,
                    id: attempt, logger: logger
                ).get()
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: PostgresSchema.channel) { notifications in
                    let current = try await LogRow.read(on: connection, logger: logger)
                    if current.head > durableHead.load(ordering: .acquiring) { try await Self.flushWAL(on: connection, logger: logger) }
                    raiseDurableHead(to: current.head)
                    if let since = outage {
                        logger.notice(
                            "PostgreSQL reachable again; listening for heads",
                            metadata: ["endpoint": "\(configuration.endpoint)", "head": "\(current.head)", "outage_seconds": "\(Int(Date().timeIntervalSince(since)))"]
                        )
                        outage = nil
                    }
                    backoff = .milliseconds(100)
                    publishHead(current.head)
                    for try await notification in notifications {
                        received(notification.payload)
                    }
                }
                if Task.isCancelled { return }
                throw PostgresStoreError(.unavailable, "the LISTEN connection ended")
            } catch {
                if Task.isCancelled { return }
                if outage == nil {
                    outage = Date()
                    logger.error(
                        "lost PostgreSQL; reconnecting with backoff (publishes answer 503 until it is back)",
                        metadata: ["endpoint": "\(configuration.endpoint)", "error": "\(PostgresStoreError.wrap(error, during: "LISTEN"))"]
                    )
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
