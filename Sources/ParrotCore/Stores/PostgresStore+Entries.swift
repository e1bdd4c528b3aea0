import Logging
import NIOCore
import PostgresNIO

/// Reading and writing entries: one row per key, mapped to and from `CacheEntry`.
extension PostgresStore {
    static let columns = """
        key, namespace, endpoint, provider, model, mode, status, content_type, body, raw_bytes, \
        created_at, expires_at, last_hit_at, hit_count, prompt_tokens, completion_tokens, \
        semantic_scope, semantic_text, embedding
        """

    static func entry(from row: PostgresRow) throws -> CacheEntry? {
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

    static func semanticRecord(from row: PostgresRandomAccessRow) throws -> SemanticRecord? {
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

    static func upsert(_ entry: CacheEntry) -> PostgresQuery {
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
}
