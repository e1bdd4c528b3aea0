import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared store: one PostgreSQL database that several Parrot processes, on several machines,
/// use at once. Semantics match `SQLiteStore` (see `CacheStore`); what differs is what a shared,
/// remote store needs:
///
/// - Every call has a time limit (2 s to get a connection, 5 s in all; 60 s for bulk calls), so a
///   lost server turns requests into `BYPASS` instead of hanging them.
/// - Once the server is found unreachable, calls fail at once for a second, then one call probes
///   it; the janitor's 1 s poll is such a call, so caching resumes by itself when it is back
///   (PostgresNIO's pool retries new connections with a growing backoff, capped at 60 s, so
///   after a long outage that can take up to a minute).
/// - Clears reach other processes through the clear generation the janitor polls every second.
/// - Migrations run under an advisory lock, so replicas that start together migrate once.
public final class PostgresStore: CacheStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let reachability = Mutex(StoreReachabilityStateMachine())
    private let isClosed = Atomic<Bool>(false)
    /// The URL without its password, for `/stats` and logs.
    public let location: String

    /// Time limits of one store call: waiting for a pooled connection, and the call in all.
    struct Budget: Sendable {
        var lease: Duration
        var total: Duration

        /// Calls on the request path and the janitor's polls.
        static let quick = Budget(lease: .seconds(2), total: .seconds(5))
        /// Clears, eviction, export pages and imports, which touch many rows.
        static let bulk = Budget(lease: .seconds(2), total: .seconds(60))
    }

    private init(client: PostgresClient, runner: Task<Void, Never>, location: String, logger: Logger) {
        self.client = client
        self.runner = runner
        self.location = location
        self.logger = logger
    }

    /// Connects, checks the server and the credentials within ~5 s, migrates the schema, and
    /// starts the connection pool. Every failure is a `ConfigError` naming `cache.postgres_url`
    /// with the reason; the password never appears in it.
    public static func connect(url: String, poolSize: Int, logger: Logger) async throws -> PostgresStore {
        let target = try PostgresURL(url)
        let tls: (client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS)
        do {
            tls = try target.tlsModes()
        } catch {
            throw target.configError("cannot set up TLS for sslmode=\(target.sslMode.rawValue): \(error)")
        }

        var checkConfiguration = PostgresConnection.Configuration(
            host: target.host, port: target.port, username: target.username, password: target.password,
            database: target.database, tls: tls.connection
        )
        checkConfiguration.options.connectTimeout = .seconds(5)
        let check = checkConfiguration
        do {
            let connection = try await withDeadline(.seconds(5), onTimeout: {
                PostgresStoreError(.timedOut, "no answer from \(target.host):\(target.port) within 5 s")
            }) {
                try await PostgresConnection.connect(configuration: check, id: 0, logger: logger)
            }
            // A migration may take longer than a connection; it gets a bulk call's budget.
            let watch = LeaseWatch()
            _ = watch.leased(connection)
            do {
                try await withDeadline(Budget.bulk.total, onTimeout: {
                    _ = watch.abandon()
                    return PostgresStoreError(.timedOut, "the schema migration did not finish within \(Budget.bulk.total)")
                }) {
                    try await migrate(connection, logger: logger)
                }
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch {
            throw target.configError(Self.describe(error, connecting: target))
        }

        var configuration = PostgresClient.Configuration(
            host: target.host, port: target.port, username: target.username, password: target.password,
            database: target.database, tls: tls.client
        )
        configuration.options.maximumConnections = max(1, poolSize)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", "parrot")]
        var poolLogger = logger
        poolLogger[metadataKey: "component"] = "postgres-pool"
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        // Detached: the pool must outlive a graceful shutdown of the server, so the janitor can
        // write the last hit counts; `close()` ends it.
        let runner = Task.detached { await client.run() }
        logger.info("PostgreSQL store ready", metadata: ["url": "\(target.redacted)"])
        return PostgresStore(client: client, runner: runner, location: target.redacted, logger: logger)
    }

    // MARK: schema

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
    private static let migrationLock = 0x7061_7272_6F74

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

    // MARK: entries

    private static let columns = """
        key, namespace, endpoint, provider, model, mode, status, content_type, body, raw_bytes, \
        created_at, expires_at, last_hit_at, hit_count, prompt_tokens, completion_tokens, \
        semantic_scope, semantic_text, embedding
        """

    private static func entry(from row: PostgresRow) throws -> CacheEntry? {
        let row = row.makeRandomAccess()
        guard let key = CacheKey(hex: try row["key"].decode(String.self)) else { return nil }
        return CacheEntry(
            key: key, namespace: try row["namespace"].decode(String.self), endpoint: try row["endpoint"].decode(String.self),
            provider: try row["provider"].decode(String.self), model: try row["model"].decode(String.self),
            mode: CacheEntry.Mode(rawValue: try row["mode"].decode(String.self)) ?? .json, status: try row["status"].decode(Int.self),
            contentType: try row["content_type"].decode(String.self), body: try row["body"].decode(ByteBuffer.self),
            rawBytes: try row["raw_bytes"].decode(Int.self), createdAt: try row["created_at"].decode(Double.self),
            expiresAt: try row["expires_at"].decode(Double?.self), lastHitAt: try row["last_hit_at"].decode(Double.self),
            hitCount: try row["hit_count"].decode(Int.self), promptTokens: try row["prompt_tokens"].decode(Int.self),
            completionTokens: try row["completion_tokens"].decode(Int.self), semantic: try semanticRecord(from: row)
        )
    }

    private static func semanticRecord(from row: PostgresRandomAccessRow) throws -> SemanticRecord? {
        guard let scope = try row["semantic_scope"].decode(String?.self),
              let text = try row["semantic_text"].decode(String?.self),
              let vector = try row["embedding"].decode(ByteBuffer?.self)
        else { return nil }
        return SemanticRecord(scope: scope, vector: SemanticRecord.vector(from: Array(vector.readableBytesView)), text: text)
    }

    public func get(_ key: CacheKey) async throws -> CacheEntry? {
        try await call(.quick) { connection, logger in
            let rows = try await connection.query(
                "SELECT \(unescaped: Self.columns) FROM parrot_entries WHERE key = \(key.hex)", logger: logger)
            for try await row in rows { return try Self.entry(from: row) }
            return nil
        }
    }

    /// The newest complete answer wins: the last `put` to commit replaces the whole row, hit
    /// count and semantic record included, as SQLite's `INSERT OR REPLACE` does. `created_at` is
    /// not compared, because replicas' clocks may disagree and a `no-cache` refresh must always
    /// replace.
    public func put(_ entry: CacheEntry) async throws {
        try await call(.quick) { connection, logger in
            _ = try await connection.query(Self.upsert(entry), logger: logger)
        }
    }

    private static func upsert(_ entry: CacheEntry) -> PostgresQuery {
        """
        INSERT INTO parrot_entries (\(unescaped: columns), body_bytes)
        VALUES (\(entry.key.hex), \(entry.namespace), \(entry.endpoint), \(entry.provider), \(entry.model),
                \(entry.mode.rawValue), \(entry.status), \(entry.contentType), \(entry.body), \(entry.rawBytes),
                \(entry.createdAt), \(entry.expiresAt), \(entry.lastHitAt), \(entry.hitCount), \(entry.promptTokens),
                \(entry.completionTokens), \(entry.semantic?.scope), \(entry.semantic?.text),
                \(entry.semantic.map { ByteBuffer(bytes: $0.vectorBytes) }), \(entry.body.readableBytes))
        ON CONFLICT (key) DO UPDATE SET
            namespace = EXCLUDED.namespace, endpoint = EXCLUDED.endpoint, provider = EXCLUDED.provider,
            model = EXCLUDED.model, mode = EXCLUDED.mode, status = EXCLUDED.status,
            content_type = EXCLUDED.content_type, body = EXCLUDED.body, raw_bytes = EXCLUDED.raw_bytes,
            created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, last_hit_at = EXCLUDED.last_hit_at,
            hit_count = EXCLUDED.hit_count, prompt_tokens = EXCLUDED.prompt_tokens,
            completion_tokens = EXCLUDED.completion_tokens, semantic_scope = EXCLUDED.semantic_scope,
            semantic_text = EXCLUDED.semantic_text, embedding = EXCLUDED.embedding, body_bytes = EXCLUDED.body_bytes
        """
    }

    public func importEntries(_ entries: [CacheEntry]) async throws {
        try await call(.bulk) { connection, logger in
            try await Self.transaction(connection, logger: logger) { connection in
                for entry in entries { try await connection.query(Self.upsert(entry), logger: logger) }
                try await Self.bumpClearGeneration(connection, logger: logger)
            }
        }
    }

    public func recordHits(_ hits: [CacheKey: HitTally]) async throws {
        guard !hits.isEmpty else { return }
        // One statement for the batch; keys sorted so replicas lock rows in the same order.
        let sorted = hits.map { (key: $0.key.hex, tally: $0.value) }.sorted { $0.key < $1.key }
        let keys = sorted.map(\.key)
        let counts = sorted.map(\.tally.count)
        let times = sorted.map(\.tally.lastHitAt)
        try await call(.quick) { connection, logger in
            _ = try await connection.query("""
                UPDATE parrot_entries AS e
                SET hit_count = e.hit_count + h.count, last_hit_at = GREATEST(e.last_hit_at, h.at)
                FROM unnest(\(keys)::text[], \(counts)::bigint[], \(times)::float8[]) AS h(key, count, at)
                WHERE e.key = h.key
                """, logger: logger)
        }
    }

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

    private static func bumpClearGeneration(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE parrot_meta SET value = (value::bigint + 1)::text WHERE name = 'clear_generation'", logger: logger)
    }

    /// Any fixed number: the advisory lock that lets one replica at a time evict.
    private static let evictionLock = 0x7061_7272_6F75

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
            for try await (n, b, r, h, p, c) in rows.decode((Int, Int, Int, Int, Int, Int).self) {
                return StoreSummary(entries: n, bytes: b, rawBytes: r, hits: h, promptTokens: p, completionTokens: c, path: location)
            }
            return StoreSummary(path: location)
        }
    }

    public func entries(after key: CacheKey?, limit: Int) async throws -> [CacheEntry] {
        try await call(.bulk) { connection, logger in
            let rows = try await connection.query("""
                SELECT \(unescaped: Self.columns) FROM parrot_entries
                WHERE key > \(key?.hex ?? "") ORDER BY key LIMIT \(limit)
                """, logger: logger)
            var page: [CacheEntry] = []
            for try await row in rows {
                if let entry = try Self.entry(from: row) { page.append(entry) }
            }
            return page
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

    public func semanticRows(since: Double, limit: Int) async throws -> [SemanticIndexRow] {
        try await call(.bulk) { connection, logger in
            let rows = try await connection.query("""
                SELECT key, created_at, semantic_scope, semantic_text, embedding FROM parrot_entries
                WHERE semantic_scope IS NOT NULL AND created_at >= \(since) ORDER BY created_at LIMIT \(limit)
                """, logger: logger)
            var found: [SemanticIndexRow] = []
            for try await row in rows {
                let row = row.makeRandomAccess()
                guard let key = CacheKey(hex: try row["key"].decode(String.self)),
                      let record = try Self.semanticRecord(from: row)
                else { continue }
                found.append(SemanticIndexRow(key: key, record: record, createdAt: try row["created_at"].decode(Double.self)))
            }
            return found
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

    /// Ends the pool; later calls throw. Safe to call more than once.
    public func close() async throws {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        runner.cancel()
        // The pool closes its connections when its run() is cancelled; a shutdown does not wait
        // for ever on one that does not.
        let runner = self.runner
        let ended = (try? await DeadlineRace.run({
            await runner.value
            return true
        }, deadline: {
            try await Task.sleep(for: .seconds(10))
            return false
        })) ?? false
        if !ended { logger.warning("the PostgreSQL pool did not stop within 10 s; leaving it to finish on its own") }
    }

    // MARK: calls

    /// Runs one store call on a pooled connection within `budget`, failing fast while the server
    /// is known to be unreachable. Errors come out as `PostgresStoreError`.
    private func call<T: Sendable>(
        _ budget: Budget,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        guard !isClosed.load(ordering: .relaxed) else { throw PostgresStoreError(.closed, "the store is closed") }
        let isProbe: Bool
        switch reachability.withLock({ $0.callStarting(now: .now) }) {
        case .failFast:
            throw PostgresStoreError(.unreachable, "PostgreSQL at \(location) is unreachable; retrying shortly")
        case .proceed(let probe):
            isProbe = probe
        }
        do {
            let value = try await withLeasedConnection(budget, body)
            reachability.withLock { $0.callSucceeded() }
            return value
        } catch {
            let failure = Self.storeError(error)
            if failure.kind == .unreachable || failure.kind == .timedOut {
                reachability.withLock { $0.callFoundServerUnreachable(now: .now) }
            } else if isProbe {
                reachability.withLock { $0.probeEndedWithoutVerdict(now: .now) }
            }
            throw failure
        }
    }

    /// The lease and the whole call each have a deadline. A call past its deadline with a
    /// connection in hand closes that connection: PostgresNIO does not cancel a running query,
    /// but closing its connection fails it at once (and the server rolls its transaction back).
    private func withLeasedConnection<T: Sendable>(
        _ budget: Budget,
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let watch = LeaseWatch()
        let client = self.client
        let logger = self.logger
        // Not a task group: leaving one waits for the lease, which may never end (see DeadlineRace).
        do {
            return try await DeadlineRace.run({
                try await client.withConnection { connection in
                    guard watch.leased(connection) else { throw CancellationError() }
                    defer { watch.finished() }
                    return try await body(connection, logger)
                }
            }, deadline: {
                try await Task.sleep(for: budget.lease)
                guard watch.stillLeasing() else {
                    throw PostgresStoreError(.timedOut, "no connection to PostgreSQL within \(budget.lease)")
                }
                try await Task.sleep(for: budget.total - budget.lease)
                guard watch.abandon() else { return nil }
                throw PostgresStoreError(.timedOut, "PostgreSQL did not answer within \(budget.total)")
            })
        } catch {
            // However the call ended (the caller cancelled included): a connection it leased is
            // closed, a lease that comes later is refused, one that finished is left alone.
            _ = watch.abandon()
            throw error
        }
    }

    /// BEGIN … COMMIT around `body`, ROLLBACK when it throws; the body's own error is rethrown
    /// unwrapped so callers can tell a lost connection from a failed statement.
    private static func transaction<T: Sendable>(
        _ connection: PostgresConnection,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.query("BEGIN", logger: logger)
        let value: T
        do {
            value = try await body(connection)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
    }

    private static func single<T: PostgresDecodable & Sendable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws -> T? {
        for try await value in rows.decode(T.self) { return value }
        return nil
    }

    // MARK: errors

    static func storeError(_ error: any Error) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        let kind: PostgresStoreError.Kind = isConnectivityFailure(error) ? .unreachable : .query
        return PostgresStoreError(kind, describe(error, connecting: nil))
    }

    /// Lost or refused connections, and server errors of the connection, operator-intervention
    /// and insufficient-resources classes (SQLSTATE 08, 57P, 53). Not: a failed statement.
    /// Anything else that is not a decoding error (the pool's errors, NIO channel errors) is
    /// taken as the server being out of reach; a cancelled caller gives no verdict.
    static func isConnectivityFailure(_ error: any Error) -> Bool {
        if error is CancellationError || error is PostgresDecodingError { return false }
        guard let error = error as? PSQLError else { return !Task.isCancelled }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53")
        case .queryCancelled, .tooManyParameters, .invalidCommandTag, .listenFailed, .unlistenFailed:
            return false
        default:
            return true
        }
    }

    /// A reason a user can act on. PSQLError's own description is deliberately generic, and its
    /// debug description may carry bound values; this uses only the code and the server's message.
    static func describe(_ error: any Error, connecting target: PostgresURL?) -> String {
        let reason: String
        switch error {
        case let error as PostgresStoreError:
            reason = error.description
        case let error as PSQLError:
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? "?"
                let message = error.serverInfo?[.message] ?? "no message"
                switch state {
                case "28P01", "28000":
                    reason = "authentication failed for user '\(target?.username ?? "?")' (SQLSTATE \(state): \(message))"
                case "3D000":
                    reason = "the database does not exist (SQLSTATE \(state): \(message))"
                default:
                    reason = "server error SQLSTATE \(state): \(message)"
                }
            case .connectionError:
                let underlying = error.underlying.map { "\($0)" } ?? "unknown"
                if let target {
                    reason = "cannot connect to \(target.host):\(target.port): \(underlying)"
                } else {
                    reason = "cannot connect to PostgreSQL: \(underlying)"
                }
            case .serverClosedConnection, .uncleanShutdown:
                let underlying = error.underlying.map { " (\($0))" } ?? ""
                reason = "the server\(target.map { " at \($0.host):\($0.port)" } ?? "") closed the connection\(underlying)"
            case .sslUnsupported:
                reason = "the server does not support TLS, but sslmode=\(target?.sslMode.rawValue ?? "require") needs it"
            case .authMechanismRequiresPassword:
                reason = "the server asks for a password and the URL has none"
            case .unsupportedAuthMechanism:
                reason = "the server asks for an authentication method PostgresNIO does not support"
            default:
                reason = "PostgreSQL error: \(error.code)" + (error.underlying.map { " (\($0))" } ?? "")
            }
        default:
            reason = "\(error)"
        }
        guard let password = target?.password, !password.isEmpty else { return reason }
        return reason.replacingOccurrences(of: password, with: "***")
    }
}

/// Why a `PostgresStore` call failed, with a description safe to log (no password, no values).
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The server cannot be reached (or was just found unreachable): the call was not made.
        case unreachable
        case timedOut
        /// A statement failed on a working connection.
        case query
        case closed
    }

    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Decides whether a store call may try the server. After a call finds it unreachable, calls
/// fail fast for `retryInterval`; then exactly one call probes, and its outcome decides.
struct StoreReachabilityStateMachine {
    enum Action: Equatable {
        case proceed(isProbe: Bool)
        case failFast
    }

    private enum State {
        case reachable
        case unreachable(retryAt: ContinuousClock.Instant)
        case probing
    }

    private var state: State = .reachable
    let retryInterval: Duration

    init(retryInterval: Duration = .seconds(1)) {
        self.retryInterval = retryInterval
    }

    var isReachable: Bool {
        if case .reachable = state { return true }
        return false
    }

    mutating func callStarting(now: ContinuousClock.Instant) -> Action {
        switch state {
        case .reachable:
            return .proceed(isProbe: false)
        case .unreachable(let retryAt):
            guard now >= retryAt else { return .failFast }
            state = .probing
            return .proceed(isProbe: true)
        case .probing:
            return .failFast
        }
    }

    mutating func callSucceeded() {
        state = .reachable
    }

    mutating func callFoundServerUnreachable(now: ContinuousClock.Instant) {
        state = .unreachable(retryAt: now + retryInterval)
    }

    /// The probe was cancelled or a statement failed: the server's state is still unknown, so
    /// the next call probes again.
    mutating func probeEndedWithoutVerdict(now: ContinuousClock.Instant) {
        switch state {
        case .probing:
            state = .unreachable(retryAt: now)
        case .reachable, .unreachable:
            break
        }
    }
}

/// Who holds the connection of one call: the call, or (past its deadline) nobody.
private final class LeaseWatch: Sendable {
    private enum State {
        case waiting
        case leased(PostgresConnection)
        case finished
        case abandoned
    }

    private let state = Mutex(State.waiting)

    /// The call got its connection; false when the deadline passed first.
    func leased(_ connection: PostgresConnection) -> Bool {
        state.withLock { state in
            guard case .waiting = state else { return false }
            state = .leased(connection)
            return true
        }
    }

    /// Called before the connection goes back to the pool, so it is never closed afterwards.
    func finished() {
        state.withLock { $0 = .finished }
    }

    /// At the lease deadline: true if the call already has its connection (or is done); else
    /// the call is abandoned and will not start.
    func stillLeasing() -> Bool {
        state.withLock { state in
            switch state {
            case .waiting:
                state = .abandoned
                return false
            case .leased, .finished, .abandoned:
                return true
            }
        }
    }

    /// At the total deadline: closes the connection of a call still running; false when the
    /// call has already finished.
    func abandon() -> Bool {
        state.withLock { state in
            switch state {
            case .leased(let connection):
                _ = connection.close() as EventLoopFuture<Void>
                state = .abandoned
                return true
            case .waiting, .abandoned:
                state = .abandoned
                return true
            case .finished:
                return false
            }
        }
    }
}

/// Runs `body`, throwing `onTimeout()` if it has not finished after `duration`; the body is
/// cancelled then, and not waited for.
private func withDeadline<T: Sendable>(
    _ duration: Duration,
    onTimeout: @escaping @Sendable () -> any Error,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await DeadlineRace.run(body, deadline: {
        try await Task.sleep(for: duration)
        throw onTimeout()
    })
}

/// `postgres://user:password@host:port/database?sslmode=…` (or `postgresql://`), parsed once,
/// with a redacted form for messages and logs. User and password are percent-decoded; query
/// parameters other than `sslmode` are ignored.
public struct PostgresURL: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    /// libpq's meaning: `prefer` (the default) and `require` encrypt without checking the
    /// certificate; `verify-ca` checks the chain; `verify-full` also the host name.
    public var sslMode: SSLMode

    public init(_ text: String) throws {
        let shape = "expected postgres://user:password@host:port/database[?sslmode=disable|require]"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ConfigError(key: "cache.postgres_url", "not a valid URL (\(shape); percent-encode special characters in the password)")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ConfigError(key: "cache.postgres_url", "scheme must be postgres:// or postgresql://, got \(scheme)://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ConfigError(key: "cache.postgres_url", "has no host (\(shape))")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ConfigError(key: "cache.postgres_url", "has no user name (\(shape))")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        self.database = path.isEmpty ? nil : path
        self.sslMode = .prefer
        for item in components.queryItems ?? [] where item.name == "sslmode" {
            guard let mode = SSLMode(rawValue: item.value ?? "") else {
                throw ConfigError(key: "cache.postgres_url", "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(item.value ?? "")'")
            }
            self.sslMode = mode
        }
    }

    /// The URL without the password.
    public var redacted: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(shownHost):\(port)/\(database ?? username)?sslmode=\(sslMode.rawValue)"
    }

    func configError(_ reason: String) -> ConfigError {
        ConfigError(key: "cache.postgres_url", "\(redacted): \(reason)")
    }

    func tlsModes() throws -> (client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS) {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return (.disable, .disable)
        case .allow, .prefer:
            tls.certificateVerification = .none
            return (.prefer(tls), .prefer(try NIOSSLContext(configuration: tls)))
        case .require:
            tls.certificateVerification = .none
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return (.require(tls), .require(try NIOSSLContext(configuration: tls)))
        }
    }
}
