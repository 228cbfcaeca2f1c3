import PostgresNIO

/// The store's tables. One log per database: `tether_log` is its single row (epoch, the head
/// counter every append locks, the oldest retained seq, depth and trim history), `tether_events`
/// the retained events, `tether_clients` the client records.
///
/// The head counter is what makes commit order equal sequence order across relays: an append
/// locks the row (`FOR UPDATE`) before it picks numbers and holds it until it commits, so the
/// next writer can only number its events after the previous ones are visible.
enum PostgresSchema {
    /// The advisory lock that serializes schema creation (several relays may start at once).
    static let schemaLock: Int64 = 0x7465_7468_6572_0001
    /// The advisory lock that makes retention run on one relay at a time.
    static let retentionLock: Int64 = 0x7465_7468_6572_0002
    /// The NOTIFY channel. The payload is the new head (never an event), or `c <generation> <id>`
    /// when a connection of client `id` was attached on some relay.
    static let channel = "tether_head"

    static let statements: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS tether_log (
            id smallint PRIMARY KEY CHECK (id = 1),
            epoch text NOT NULL,
            head bigint NOT NULL DEFAULT 0,
            oldest bigint NOT NULL DEFAULT 1,
            depth_events bigint NOT NULL DEFAULT 0,
            depth_bytes bigint NOT NULL DEFAULT 0,
            trims text NOT NULL DEFAULT '{"ranges":[]}'
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS tether_events (
            seq bigint PRIMARY KEY,
            topic text NOT NULL,
            time double precision NOT NULL,
            data bytea NOT NULL,
            producer_id text,
            bytes integer NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS tether_events_producer_id ON tether_events (producer_id) WHERE producer_id IS NOT NULL",
        """
        CREATE TABLE IF NOT EXISTS tether_clients (
            id text PRIMARY KEY,
            secret_digest text NOT NULL,
            epoch text NOT NULL,
            acked_seq bigint NOT NULL,
            first_seen double precision NOT NULL,
            last_seen double precision NOT NULL,
            reconnects bigint NOT NULL,
            delivered bigint NOT NULL,
            acked bigint NOT NULL,
            transport text NOT NULL
        )
        """,
        // Added after the first release: tables created before it gain the column here.
        "ALTER TABLE tether_clients ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0",
    ]
}
