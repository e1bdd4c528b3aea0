import Foundation
import GRDB
import NIOCore
import Synchronization

/// The default, embedded store: one SQLite file in WAL mode, so readers never wait for the
/// writer and a crash (even `kill -9`) loses at most the transaction in progress.
public final class SQLiteStore: CacheStore {
    private let pool: DatabasePool
    public let path: String
    /// Concurrent `put`s share a transaction (see `GroupCommit`).
    private let writes: GroupCommit<CacheEntry>
    /// Keys this store may hold: a miss for a new key skips the read, while this handle is the
    /// file's only opener and its writes succeed.
    private let stored = StoredKeyFilter()
    private let openers: SoleOpener?
    private let trusted = Atomic<Bool>(true)

    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw ConfigError(key: "cache.path", "cannot open SQLite store at '\(path)': \(error)")
        }
        self.pool = pool
        openers = SoleOpener(path: path + "-openers")
        writes = GroupCommit { entries in
            try await pool.write { db in
                for entry in entries { try Self.insert(entry, db) }
            }
        }
        // The keys already stored, read in the background: until then every key may be stored.
        Task.detached(priority: .utility) { [stored] in
            do {
                try pool.read { db in
                    let keys = try String.fetchCursor(db, sql: "SELECT key FROM entries")
                    while let hex = try keys.next() {
                        if let key = CacheKey(hex: hex) { stored.insert(key) }
                    }
                }
                stored.markLoaded()
            } catch {
                // Left unloaded: every lookup reads the store, as before.
            }
        }
    }

    /// Append-only: a released migration is never edited, only followed by a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: entries and meta") { db in
            try db.execute(sql: """
                CREATE TABLE entries (
                    key TEXT PRIMARY KEY NOT NULL,
                    namespace TEXT NOT NULL,
                    endpoint TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    model TEXT NOT NULL,
                    mode TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    content_type TEXT NOT NULL,
                    body BLOB NOT NULL,
                    body_bytes INTEGER NOT NULL,
                    raw_bytes INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    last_hit_at REAL NOT NULL,
                    hit_count INTEGER NOT NULL DEFAULT 0,
                    prompt_tokens INTEGER NOT NULL DEFAULT 0,
                    completion_tokens INTEGER NOT NULL DEFAULT 0,
                    embedding BLOB
                ) WITHOUT ROWID;
                CREATE INDEX entries_lru ON entries(last_hit_at);
                CREATE INDEX entries_expiry ON entries(expires_at);
                CREATE INDEX entries_namespace ON entries(namespace);
                CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                INSERT INTO meta(name, value) VALUES ('clear_generation', '0');
                """)
        }
        migrator.registerMigration("v2: semantic records") { db in
            try db.execute(sql: """
                ALTER TABLE entries ADD COLUMN semantic_scope TEXT;
                ALTER TABLE entries ADD COLUMN semantic_text TEXT;
                CREATE INDEX entries_created ON entries(created_at);
                """)
        }
        return migrator
    }

    static let columns = """
        key, namespace, endpoint, provider, model, mode, status, content_type, body, raw_bytes,
        created_at, expires_at, last_hit_at, hit_count, prompt_tokens, completion_tokens,
        semantic_scope, semantic_text, embedding
        """

    static func entry(from row: Row) -> CacheEntry? {
        guard let key = CacheKey(hex: row["key"]) else { return nil }
        let body: Data = row["body"]
        return CacheEntry(
            key: key, namespace: row["namespace"], endpoint: row["endpoint"], provider: row["provider"],
            model: row["model"], mode: CacheEntry.Mode(rawValue: row["mode"]) ?? .json, status: row["status"],
            contentType: row["content_type"], body: ByteBuffer(bytes: body), rawBytes: row["raw_bytes"],
            createdAt: row["created_at"], expiresAt: row["expires_at"], lastHitAt: row["last_hit_at"],
            hitCount: row["hit_count"], promptTokens: row["prompt_tokens"], completionTokens: row["completion_tokens"],
            semantic: semanticRecord(from: row)
        )
    }

    static func semanticRecord(from row: Row) -> SemanticRecord? {
        guard let scope: String = row["semantic_scope"], let text: String = row["semantic_text"], let vector: Data = row["embedding"] else { return nil }
        return SemanticRecord(scope: scope, vector: SemanticRecord.vector(from: Array(vector)), text: text)
    }

    /// Synchronous on the caller's thread: a keyed lookup in WAL mode takes microseconds and
    /// never waits for the writer, while GRDB's async read hops to a reader queue and back
    /// (two thread wake-ups, most of the time a miss spends in the store).
    public func get(_ key: CacheKey) async throws -> CacheEntry? {
        if trusted.load(ordering: .relaxed), !stored.mayContain(key), openers?.isSole() == true { return nil }
        let entry = try Self.lookup(key, in: pool)
        trusted.store(true, ordering: .relaxed)
        return entry
    }

    /// Not async, so that GRDB's synchronous read is the one called. `unsafeRead`: one SELECT
    /// is atomic on its own, so the BEGIN/COMMIT pair `read` wraps around it (two more
    /// statements per lookup, i.e. per miss) buys nothing here.
    private static func lookup(_ key: CacheKey, in pool: DatabasePool) throws -> CacheEntry? {
        try pool.unsafeRead { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(columns) FROM entries WHERE key = ?"), arguments: [key.hex])
                .flatMap(entry(from:))
        }
    }

    public func put(_ entry: CacheEntry) async throws {
        stored.insert(entry.key)
        do {
            try await writes.submit(entry)
        } catch {
            // Until a read succeeds again, misses read the store, so its failure shows (BYPASS).
            trusted.store(false, ordering: .relaxed)
            throw error
        }
    }

    static func insert(_ entry: CacheEntry, _ db: Database) throws {
        // A cached statement: compiled (and authorised) once per connection, not per answer.
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO entries(\(columns), body_bytes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(
            arguments: [
                entry.key.hex, entry.namespace, entry.endpoint, entry.provider, entry.model, entry.mode.rawValue,
                entry.status, entry.contentType, Data(entry.body.readableBytesView), entry.rawBytes, entry.createdAt,
                entry.expiresAt, entry.lastHitAt, entry.hitCount, entry.promptTokens, entry.completionTokens,
                entry.semantic?.scope, entry.semantic?.text, entry.semantic.map { Data($0.vectorBytes) },
                entry.body.readableBytes,
            ]
        )
    }

    public func importEntries(_ entries: [CacheEntry]) async throws {
        for entry in entries { stored.insert(entry.key) }
        try await pool.write { db in
            for entry in entries { try Self.insert(entry, db) }
            try db.execute(sql: "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'clear_generation'")
        }
    }

    public func recordHits(_ hits: [CacheKey: HitTally]) async throws {
        guard !hits.isEmpty else { return }
        try await pool.write { db in
            for (key, tally) in hits {
                try db.execute(
                    sql: "UPDATE entries SET hit_count = hit_count + ?, last_hit_at = max(last_hit_at, ?) WHERE key = ?",
                    arguments: [tally.count, tally.lastHitAt, key.hex]
                )
            }
        }
    }

    public func clear(namespace: String?) async throws -> Int {
        try await pool.write { db in
            if let namespace {
                try db.execute(sql: "DELETE FROM entries WHERE namespace = ?", arguments: [namespace])
            } else {
                try db.execute(sql: "DELETE FROM entries")
            }
            let count = db.changesCount
            try db.execute(sql: "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'clear_generation'")
            return count
        }
    }

    public func evict(maxBytes: Int, now: Double, staleSeconds: Int) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at + ? < ?",
                arguments: [staleSeconds, now]
            )
            var removed = db.changesCount
            var total = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(body_bytes), 0) FROM entries") ?? 0
            guard total > maxBytes else { return removed }
            // Expired (kept only for STALE answers) go first, then least recently used.
            let victims = try Row.fetchCursor(
                db,
                sql: """
                    SELECT key, body_bytes FROM entries
                    ORDER BY (expires_at IS NOT NULL AND expires_at < ?) DESC, last_hit_at ASC
                    """,
                arguments: [now]
            )
            var keys: [String] = []
            while total > maxBytes, let row = try victims.next() {
                keys.append(row["key"])
                total -= row["body_bytes"] as Int
            }
            for chunk in stride(from: 0, to: keys.count, by: 500) {
                let slice = Array(keys[chunk..<min(chunk + 500, keys.count)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                try db.execute(sql: "DELETE FROM entries WHERE key IN (\(marks))", arguments: StatementArguments(slice))
                removed += db.changesCount
            }
            return removed
        }
    }

    public func summary() async throws -> StoreSummary {
        let path = self.path
        return try await pool.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS n, COALESCE(SUM(body_bytes), 0) AS b, COALESCE(SUM(raw_bytes), 0) AS r,
                       COALESCE(SUM(hit_count), 0) AS h, COALESCE(SUM(prompt_tokens), 0) AS p,
                       COALESCE(SUM(completion_tokens), 0) AS c
                FROM entries
                """)!
            return StoreSummary(entries: row["n"], bytes: row["b"], rawBytes: row["r"], hits: row["h"],
                                promptTokens: row["p"], completionTokens: row["c"], path: path)
        }
    }

    public func entries(after key: CacheKey?, limit: Int) async throws -> [CacheEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.columns) FROM entries WHERE key > ? ORDER BY key LIMIT ?",
                arguments: [key?.hex ?? "", limit]
            ).compactMap(Self.entry(from:))
        }
    }

    public func namespaceSecret(proposed: String) async throws -> String {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO meta(name, value) VALUES ('namespace_secret', ?)", arguments: [proposed])
            return try String.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'namespace_secret'") ?? proposed
        }
    }

    public func clearGeneration() async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'clear_generation'") ?? 0
        }
    }

    public func semanticRows(since: Double, limit: Int) async throws -> [SemanticIndexRow] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT key, created_at, semantic_scope, semantic_text, embedding FROM entries
                    WHERE semantic_scope IS NOT NULL AND created_at >= ? ORDER BY created_at LIMIT ?
                    """,
                arguments: [since, limit]
            ).compactMap { row in
                guard let key = CacheKey(hex: row["key"]), let record = Self.semanticRecord(from: row) else { return nil }
                return SemanticIndexRow(key: key, record: record, createdAt: row["created_at"])
            }
        }
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    /// `PRAGMA integrity_check`; "ok" when the file is sound.
    public func integrityCheck() async throws -> String {
        try await pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    public func close() async throws {
        trusted.store(false, ordering: .relaxed)
        try pool.close()
    }
}
