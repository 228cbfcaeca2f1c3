import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Where the bench's PostgreSQL backends spend their time, by sampling `pg_stat_activity` every
/// `interval` on a connection of its own while a run publishes.
///
/// Each sample looks at every other client backend of the run's database that is busy: running
/// a statement (`active`) or inside a transaction between statements (`idle in transaction`).
/// Idle pooled connections and the LISTEN connections are not busy and are not counted. A busy
/// backend is counted in one class: waiting for a heavyweight lock (`Lock`: the `tether_log` row,
/// a transaction id, the NOTIFY queue's object lock), flushing WAL (`IO`/`LWLock` on WAL), waiting
/// for the relay's next statement inside a transaction (`Client`), running (no wait event), or
/// other. The lock-wait share is the `Lock` class over all busy samples.
///
/// Ownership: the sampling task owns the connection; the counts sit behind one `Mutex`.
final class WaitSampler: Sendable {
    struct Counts: Sendable {
        var lock = 0
        var wal = 0
        var client = 0
        var running = 0
        var other = 0
        var samples = 0
        var busy: Int { lock + wal + client + running + other }
        /// Every wait event seen (`Lock/tuple`, `Lock/transactionid`, `IO/WALSync`, ...), counted.
        var events: [String: Int] = [:]

        func share(_ part: Int) -> Double { busy == 0 ? 0 : Double(part) / Double(busy) }

        var summary: String {
            String(
                format: "lock %.0f %%, WAL flush %.0f %%, relay round trip %.0f %%, running %.0f %%, other %.0f %% of %d busy-backend samples",
                share(lock) * 100, share(wal) * 100, share(client) * 100, share(running) * 100, share(other) * 100, busy
            )
        }

        var json: [String: Any] {
            ["lock": lock, "wal": wal, "client": client, "running": running, "other": other, "samples": samples, "events": events]
        }
    }

    private let counts = Mutex(Counts())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts sampling the database at `url` (a `postgres://user@host:port/db` URL, trust auth).
    init(url: String, interval: Duration = .milliseconds(10), logger: Logger) throws {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw CocoaError(.fileReadUnsupportedScheme)
        }
        let configuration = PostgresConnection.Configuration(
            host: host, port: port, username: components.user ?? "postgres", password: nil,
            database: String(components.path.dropFirst()), tls: .disable
        )
        let sampling = Task { [self] in await sample(configuration, every: interval, logger: logger) }
        task.withLock { $0 = sampling }
    }

    private func sample(_ configuration: PostgresConnection.Configuration, every interval: Duration, logger: Logger) async {
        guard
            let connection = try? await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.next(), configuration: configuration, id: 0, logger: logger
            ).get()
        else { return }
        while !Task.isCancelled {
            var sample = Counts()
            if let rows = try? await connection.query(
                """
                SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, '') FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                    AND state IN ('active', 'idle in transaction')
                """,
                logger: logger
            ), let decoded = try? await rows.collect() {
                for row in decoded {
                    guard let (state, type, event) = try? row.decode((String, String, String).self) else { continue }
                    sample.classify(state: state, type: type, event: event)
                }
            }
            counts.withLock { $0.add(sample) }
            try? await Task.sleep(for: interval)
        }
        try? await connection.close()
    }

    /// Stops sampling and returns what was counted.
    func finish() async -> Counts {
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        return counts.withLock { $0 }
    }
}

extension WaitSampler.Counts {
    mutating func classify(state: String, type: String, event: String) {
        events[type.isEmpty ? "running" : "\(type)/\(event)", default: 0] += 1
        switch type {
        case "Lock":
            lock += 1
        case "IO" where event.hasPrefix("WAL"), "LWLock" where event.hasPrefix("WAL"):
            wal += 1
        case "Client":
            client += 1
        case "" where state == "active":
            running += 1
        default:
            other += 1
        }
    }

    mutating func add(_ sample: Self) {
        lock += sample.lock
        wal += sample.wal
        client += sample.client
        running += sample.running
        other += sample.other
        samples += 1
        for (event, count) in sample.events { events[event, default: 0] += count }
    }
}
