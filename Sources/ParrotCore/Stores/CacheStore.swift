/// The persistent tier behind the memory LRU. Each method is one transaction; implementations
/// own their handle and migrate their schema on open. Errors never fail a client request: the
/// caller logs them and serves the request as `BYPASS`.
public protocol CacheStore: Sendable {
    func get(_ key: CacheKey) async throws -> CacheEntry?
    /// Inserts or replaces (the newest complete answer wins).
    func put(_ entry: CacheEntry) async throws
    /// Adds batched hit counts and last-hit times.
    func recordHits(_ hits: [CacheKey: HitTally]) async throws
    /// Deletes every entry, or one namespace's, and bumps the clear generation. Returns the count.
    @discardableResult
    func clear(namespace: String?) async throws -> Int
    /// Removes entries expired beyond the stale window, then least recently used ones until
    /// the stored body bytes are at most `maxBytes` (expired entries first). Returns the count.
    @discardableResult
    func evict(maxBytes: Int, now: Double, staleSeconds: Int) async throws -> Int
    func summary() async throws -> StoreSummary
    /// Entries ordered by key, for export: those after `key`, at most `limit`.
    func entries(after key: CacheKey?, limit: Int) async throws -> [CacheEntry]
    /// Writes imported entries (replacing same keys) in one transaction and bumps the clear
    /// generation so every process drops memory copies that the import may have replaced.
    func importEntries(_ entries: [CacheEntry]) async throws
    /// The namespace HMAC secret: `proposed` is stored if none exists; the stored one is returned.
    func namespaceSecret(proposed: String) async throws -> String
    /// A number that changes on every clear, polled so other processes drop their memory tier.
    func clearGeneration() async throws -> Int
    /// Yields as soon as a clear by any process may have changed `clearGeneration()`, for a
    /// store that can tell (PostgreSQL: LISTEN/NOTIFY). A hint, not a guarantee: it may fire when
    /// nothing changed and misses clears while its connection is down, so callers keep polling.
    /// Ends (or never starts) when the store cannot tell; stops when the caller stops iterating.
    func clearHints() -> AsyncStream<Void>
    /// Entries carrying a semantic record, created at or after `since` (oldest first), for
    /// building the semantic index on start and picking up other processes' entries.
    func semanticRows(since: Double, limit: Int) async throws -> [SemanticIndexRow]
    /// Cheap liveness check for `/readyz`.
    func ping() async throws
    func close() async throws
}

extension CacheStore {
    /// No hints: the store's clears are seen through the poll alone.
    public func clearHints() -> AsyncStream<Void> {
        AsyncStream { $0.finish() }
    }
}

public struct HitTally: Sendable, Equatable {
    public var count: Int
    public var lastHitAt: Double

    public init(count: Int, lastHitAt: Double) {
        self.count = count
        self.lastHitAt = lastHitAt
    }
}

public struct StoreSummary: Sendable, Equatable {
    public var entries: Int
    /// Stored (compressed) body bytes: the quantity `cache.max_bytes` bounds.
    public var bytes: Int
    public var rawBytes: Int
    public var hits: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var path: String

    public init(entries: Int = 0, bytes: Int = 0, rawBytes: Int = 0, hits: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0, path: String = "") {
        self.entries = entries
        self.bytes = bytes
        self.rawBytes = rawBytes
        self.hits = hits
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.path = path
    }

    public var compressionRatio: Double { bytes > 0 ? Double(rawBytes) / Double(bytes) : 0 }
}
