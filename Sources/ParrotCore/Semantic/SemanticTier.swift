import Foundation
import Logging
import Synchronization

/// The optional tier after an exact miss: embed the conversation, find the most similar stored
/// request in the same scope with cosine ≥ `semantic.threshold`, and serve its answer only if the
/// near-miss guard agrees. Failure or slowness of the embedder is a plain miss, never an error.
public final class SemanticTier: Sendable {
    public struct Probe: Sendable {
        public var record: SemanticRecord
    }

    let config: SemanticConfig
    let embedder: any Embedder
    public let index = VectorIndex()
    let logger: Logger
    public let embeddingCalls = Atomic<Int>(0)
    public let embeddingErrors = Atomic<Int>(0)
    public let embeddingLatency = LatencyHistogram()
    private let syncedUntil = Mutex<Double>(0)

    public init(config: SemanticConfig, embedder: any Embedder, logger: Logger) {
        self.config = config
        self.embedder = embedder
        self.logger = logger
    }

    /// Whether this request may use the tier at all (endpoint, header, temperature, n).
    func isEligible(endpoint: Endpoint, body: JSONValue, policy: CachePolicy) -> Bool {
        guard endpoint != .embeddings, policy.semantic else { return false }
        if let t = body["temperature"]?.doubleValue, t > config.maxTemperature { return false }
        if let n = body["n"]?.intValue, n > 1, !config.includeMultipleChoices { return false }
        return true
    }

    /// Embeds the request's conversation; nil when there is no text or the embedder failed.
    func probe(endpoint: Endpoint, provider: String, model: String, namespace: String, body: JSONValue, streamed: Bool) async -> Probe? {
        guard let text = SemanticText.extract(endpoint: endpoint, body: body) else { return nil }
        let scope = CacheKey(endpoint: endpoint, provider: provider, model: model, namespace: namespace,
                             body: SemanticText.scopeBody(endpoint: endpoint, body: body), streamed: streamed).hex
        embeddingCalls.add(1, ordering: .relaxed)
        let started = ContinuousClock.now
        do {
            let vector = try await embedder.embed(text)
            embeddingLatency.record(ContinuousClock.now - started)
            guard !vector.isEmpty else { return nil }
            return Probe(record: SemanticRecord(scope: scope, vector: vector, text: text))
        } catch {
            embeddingErrors.add(1, ordering: .relaxed)
            logger.debug("embedding failed; exact tier only", metadata: ["error": "\(error)"])
            return nil
        }
    }

    func search(_ probe: Probe) -> VectorIndex.Match? {
        index.search(scope: probe.record.scope, vector: probe.record.vector, threshold: Float(config.threshold)) { candidate in
            SemanticGuard.compatible(candidate, probe.record.text)
        }
    }

    func insert(key: CacheKey, _ record: SemanticRecord) {
        index.insert(key: key, scope: record.scope, vector: record.vector, text: record.text)
    }

    /// Loads entries indexed since the last sync (all of them the first time): the index is
    /// rebuilt from the store on start and picks up other processes' entries every 2 s.
    func sync(from store: any CacheStore) async {
        // Overlap by a few seconds: another process's clock or a slow commit may lag.
        let since = syncedUntil.withLock { $0 } - 5
        do {
            var cursor = since
            while true {
                let rows = try await store.semanticRows(since: cursor, limit: 5000)
                for (i, row) in rows.enumerated() {
                    insert(key: row.key, row.record)
                    // Indexing is CPU work; on a start with many entries, let requests through.
                    if i % 256 == 255 { await Task.yield() }
                }
                guard rows.count == 5000, let last = rows.last, last.createdAt > cursor else {
                    if let last = rows.last { cursor = max(cursor, last.createdAt) }
                    break
                }
                cursor = last.createdAt
            }
            let newest = cursor
            syncedUntil.withLock { $0 = max($0, newest) }
        } catch {
            logger.debug("semantic index sync failed", metadata: ["error": "\(error)"])
        }
    }

    func report() -> JSONValue {
        .object([
            ("enabled", .bool(true)),
            ("threshold", .number(JSONValue.canonicalNumber(config.threshold))),
            ("index_entries", .int(index.count)),
            ("embedding_calls", .int(embeddingCalls.load(ordering: .relaxed))),
            ("embedding_errors", .int(embeddingErrors.load(ordering: .relaxed))),
            ("embedding_latency_ms", StatsReport.latency(embeddingLatency.snapshot())),
        ])
    }
}
