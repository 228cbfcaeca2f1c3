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
        appendFunction,
    ]

    /// The part of an append that holds the head counter, in one statement so that no round trip
    /// to the relay happens while the row is locked: lock `tether_log`, look up the producer ids
    /// (a fresh snapshot, after the lock), number the new events after the head, insert them,
    /// and advance head and depth. Returns each event's seq, whether it is new, and the row.
    /// Called as a statement of its own, so it commits as it returns (with `synchronous_commit`
    /// off, set here: the store flushes the WAL after the lock is gone). Producer ids must be
    /// unique within one call (the store folds repeats before calling).
    static let appendFunction: PostgresQuery = """
        CREATE OR REPLACE FUNCTION tether_append(
            p_topics text[], p_times float8[], p_data bytea[], p_ids text[], p_has_id bool[], p_bytes int4[],
            OUT o_seqs int8[], OUT o_fresh bool[], OUT o_epoch text, OUT o_head int8, OUT o_oldest int8,
            OUT o_depth_events int8, OUT o_depth_bytes int8, OUT o_trims text
        ) LANGUAGE plpgsql AS $fn$
        DECLARE
            l tether_log%ROWTYPE;
            added int8;
            added_bytes int8;
        BEGIN
            PERFORM set_config('synchronous_commit', 'off', true);
            SELECT * INTO l FROM tether_log WHERE id = 1 FOR UPDATE;
            -- Dynamic, so it is planned for these ids each time: a plan cached while the table was
            -- small would scan it whole for ever after.
            EXECUTE 'SELECT array_agg(coalesce(x.seq, $4 + x.rank) ORDER BY x.i), array_agg(x.seq IS NULL ORDER BY x.i),
                    count(*) FILTER (WHERE x.seq IS NULL), coalesce(sum($5[x.i]) FILTER (WHERE x.seq IS NULL), 0)
                FROM (
                    SELECT i, e.seq, count(*) FILTER (WHERE e.seq IS NULL) OVER (ORDER BY i) AS rank
                    FROM generate_subscripts($1, 1) AS i
                    LEFT JOIN (SELECT producer_id, seq FROM tether_events WHERE producer_id = ANY($2)) e ON $3[i] AND e.producer_id = $2[i]
                ) x'
            INTO o_seqs, o_fresh, added, added_bytes
            USING p_topics, p_ids, p_has_id, l.head, p_bytes;
            IF added > 0 THEN
                INSERT INTO tether_events (seq, topic, time, data, producer_id, bytes)
                SELECT o_seqs[i], p_topics[i], p_times[i], p_data[i], CASE WHEN p_has_id[i] THEN p_ids[i] END, p_bytes[i]
                FROM generate_subscripts(p_topics, 1) AS i WHERE o_fresh[i];
                UPDATE tether_log SET head = l.head + added, depth_events = l.depth_events + added, depth_bytes = l.depth_bytes + added_bytes
                WHERE id = 1;
            END IF;
            o_epoch := l.epoch;
            o_head := l.head + added;
            o_oldest := l.oldest;
            o_depth_events := l.depth_events + added;
            o_depth_bytes := l.depth_bytes + added_bytes;
            o_trims := l.trims;
        END
        $fn$
        """
}
