import Logging
import NIOCore
import PostgresNIO

/// Clears, eviction, the shared meta rows and health checks.
extension PostgresStore {
    public func clear(namespace: String?) async throws -> Int {
        try await call(.bulk) { connection, logger in
            try await Self.transaction(connection, logger: logger) { connection in
                let rows: PostgresRowSequence
                if let namespace {
                    rows = try await connection.query("""
                        WITH gone AS (DELETE FROM parrot_entries WHERE namespace = \(namespace) RETURNING 1)
                        SELECT count(*) FROM gone
                        """, logger: logger)
                } else {
                    rows = try await connection.query(
                        "WITH gone AS (DELETE FROM parrot_entries RETURNING 1) SELECT count(*) FROM gone", logger: logger)
                }
                let count = try await Self.single(Int.self, rows) ?? 0
                try await Self.bumpClearGeneration(connection, logger: logger)
                return count
            }
        }
    }

    /// Bumps the generation every process polls, and announces it to every listening process
    /// (`PostgresClearListener`). PostgreSQL delivers the notification when the transaction
    /// commits, so nobody hears of a clear that rolled back.
    static func bumpClearGeneration(_ connection: PostgresConnection, logger: Logger) async throws {
        let generation = try await single(Int.self, connection.query("""
            UPDATE parrot_meta SET value = (value::bigint + 1)::text WHERE name = 'clear_generation'
            RETURNING value::bigint
            """, logger: logger)) ?? 0
        try await connection.query(
            "SELECT pg_notify(\(PostgresClearListener.channel), \(String(generation)))", logger: logger)
    }

    /// Any fixed number: the advisory lock that lets one replica at a time evict.
    static let evictionLock = 0x7061_7272_6F75

    /// When another replica is evicting right now this one skips the round and returns 0.
    public func evict(maxBytes: Int, now: Double, staleSeconds: Int) async throws -> Int {
        try await call(.bulk) { connection, logger in
            try await Self.transaction(connection, logger: logger) { connection in
                let locked = try await Self.single(Bool.self, connection.query(
                    "SELECT pg_try_advisory_xact_lock(\(Self.evictionLock))", logger: logger)) ?? false
                guard locked else { return 0 }
                var removed = try await Self.single(Int.self, connection.query("""
                    WITH gone AS (
                        DELETE FROM parrot_entries
                        WHERE expires_at IS NOT NULL AND expires_at + \(Double(staleSeconds)) < \(now)
                        RETURNING 1
                    )
                    SELECT count(*) FROM gone
                    """, logger: logger)) ?? 0
                let total = try await Self.single(Int.self, connection.query(
                    "SELECT COALESCE(SUM(body_bytes), 0)::bigint FROM parrot_entries", logger: logger)) ?? 0
                guard total > maxBytes else { return removed }
                // Expired entries (kept only for STALE answers) go first, then least recently
                // used: a row goes while the bytes freed before it leave the total above the bound.
                removed += try await Self.single(Int.self, connection.query("""
                    WITH ranked AS (
                        SELECT key, SUM(body_bytes) OVER (
                            ORDER BY (expires_at IS NOT NULL AND expires_at < \(now)) DESC, last_hit_at ASC, key
                            ROWS UNBOUNDED PRECEDING
                        ) - body_bytes AS freed_before
                        FROM parrot_entries
                    ), gone AS (
                        DELETE FROM parrot_entries AS e USING ranked AS r
                        WHERE e.key = r.key AND r.freed_before < \(total - maxBytes)
                        RETURNING 1
                    )
                    SELECT count(*) FROM gone
                    """, logger: logger)) ?? 0
                return removed
            }
        }
    }

    public func summary() async throws -> StoreSummary {
        let location = self.location
        return try await call(.quick) { connection, logger in
            let rows = try await connection.query("""
                SELECT count(*), COALESCE(SUM(body_bytes), 0)::bigint, COALESCE(SUM(raw_bytes), 0)::bigint,
                       COALESCE(SUM(hit_count), 0)::bigint, COALESCE(SUM(prompt_tokens), 0)::bigint,
                       COALESCE(SUM(completion_tokens), 0)::bigint
                FROM parrot_entries
                """, logger: logger)
            for try await (entries, bytes, rawBytes, hits, promptTokens, completionTokens) in rows.decode((Int, Int, Int, Int, Int, Int).self) {
                return StoreSummary(
                    entries: entries, bytes: bytes, rawBytes: rawBytes, hits: hits, promptTokens: promptTokens,
                    completionTokens: completionTokens, path: location
                )
            }
            return StoreSummary(path: location)
        }
    }

    /// Two statements, not one: under READ COMMITTED the `SELECT` takes a fresh snapshot, so it
    /// sees the secret of a replica whose concurrent insert won the race.
    public func namespaceSecret(proposed: String) async throws -> String {
        try await call(.quick) { connection, logger in
            try await connection.query("""
                INSERT INTO parrot_meta (name, value) VALUES ('namespace_secret', \(proposed))
                ON CONFLICT (name) DO NOTHING
                """, logger: logger)
            return try await Self.single(String.self, connection.query(
                "SELECT value FROM parrot_meta WHERE name = 'namespace_secret'", logger: logger)) ?? proposed
        }
    }

    public func clearGeneration() async throws -> Int {
        try await call(.quick) { connection, logger in
            try await Self.single(Int.self, connection.query(
                "SELECT value::bigint FROM parrot_meta WHERE name = 'clear_generation'", logger: logger)) ?? 0
        }
    }
    public func ping() async throws {
        try await call(.quick) { connection, logger in
            _ = try await connection.query("SELECT 1", logger: logger)
        }
    }

    /// "ok" when every stored body has the length its row records; otherwise how many do not.
    public func integrityCheck() async throws -> String {
        try await call(.bulk) { connection, logger in
            let bad = try await Self.single(Int.self, connection.query(
                "SELECT count(*) FROM parrot_entries WHERE body_bytes <> octet_length(body)", logger: logger)) ?? 0
            return bad == 0 ? "ok" : "\(bad) entries whose body length does not match body_bytes"
        }
    }
}
