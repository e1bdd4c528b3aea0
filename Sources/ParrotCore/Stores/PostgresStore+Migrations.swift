import Logging
import NIOCore
import PostgresNIO

/// The schema, migrated on connect under an advisory lock so replicas that start together
/// migrate once.
extension PostgresStore {
    /// Append-only: a released migration is never edited, only followed by a new one. Each is a
    /// list of statements (the extended protocol runs one statement per query).
    static let migrations: [(name: String, statements: [String])] = [
        ("v1: entries and meta", [
            """
            CREATE TABLE parrot_entries (
                key text COLLATE "C" PRIMARY KEY,
                namespace text NOT NULL,
                endpoint text NOT NULL,
                provider text NOT NULL,
                model text NOT NULL,
                mode text NOT NULL,
                status integer NOT NULL,
                content_type text NOT NULL,
                body bytea NOT NULL,
                body_bytes bigint NOT NULL,
                raw_bytes bigint NOT NULL,
                created_at double precision NOT NULL,
                expires_at double precision,
                last_hit_at double precision NOT NULL,
                hit_count bigint NOT NULL DEFAULT 0,
                prompt_tokens bigint NOT NULL DEFAULT 0,
                completion_tokens bigint NOT NULL DEFAULT 0,
                embedding bytea
            )
            """,
            // Bodies are gzip already: store them out of line without a second compression.
            "ALTER TABLE parrot_entries ALTER COLUMN body SET STORAGE EXTERNAL",
            "CREATE INDEX parrot_entries_lru ON parrot_entries (last_hit_at)",
            "CREATE INDEX parrot_entries_expiry ON parrot_entries (expires_at)",
            "CREATE INDEX parrot_entries_namespace ON parrot_entries (namespace)",
            "CREATE TABLE parrot_meta (name text PRIMARY KEY, value text NOT NULL)",
            "INSERT INTO parrot_meta (name, value) VALUES ('clear_generation', '0')",
        ]),
        ("v2: semantic records", [
            "ALTER TABLE parrot_entries ADD COLUMN semantic_scope text",
            "ALTER TABLE parrot_entries ADD COLUMN semantic_text text",
            "CREATE INDEX parrot_entries_created ON parrot_entries (created_at)",
        ]),
    ]

    /// Any fixed number: the advisory lock that serializes migrations across replicas.
    static let migrationLock = 0x7061_7272_6F74

    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await transaction(connection, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS parrot_schema_migrations (
                    name text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM parrot_schema_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO parrot_schema_migrations (name) VALUES (\(migration.name))", logger: logger)
                logger.info("PostgreSQL store migrated", metadata: ["migration": "\(migration.name)"])
            }
        }
    }
}
