import Logging
import NIOCore

/// The CacheCommit stage, after the relay: a complete 2xx answer is inspected (valid for its
/// endpoint, usage read), gzipped, put in the memory tier, persisted and indexed for the
/// semantic tier. The clients coalesced on the answer finish as soon as the next identical
/// request is sure to hit.
struct CacheCommit: Sendable {
    let tiers: CacheTiers
    let coalescer: Coalescer
    let semantic: SemanticTier?
    let clock: any ParrotClock
    let logger: Logger

    /// Inspects, compresses and stores a complete answer, then lets its clients finish. A chat
    /// stream without `usage` is stored beside the key (it cannot answer a plain request).
    func commit(_ call: ProxyEngine.Call, key: CacheKey, namespace: String, head: UpstreamHead, mode: CacheEntry.Mode,
                body captured: ByteBuffer, answer: InFlightAnswer, registered: Bool) async {
        let verdict = AnswerInspector.inspect(endpoint: call.endpoint, mode: mode, body: captured)
        guard verdict.storable, let compressed = try? Gzip.compress(captured) else {
            logger.debug("answer not stored", metadata: ["key": "\(key.prefix)", "reason": "\(verdict.reason)"])
            answer.finish()
            return
        }
        call.provider.upstream.recordUsage(estimated: call.estimatedTokens, actual: verdict.promptTokens + verdict.completionTokens)
        let storeKey = mode == .sse && call.endpoint.convertsBetweenModes && !verdict.hasUsage ? key.besideForStreams : key
        let now = clock.now
        guard case .keep(let ttl) = call.storage else {
            answer.finish()
            return
        }
        let entry = CacheEntry(
            key: storeKey, namespace: namespace, endpoint: call.endpoint.rawValue, provider: call.provider.name, model: call.model,
            mode: mode, status: head.status, contentType: head.header("content-type") ?? "application/json",
            body: compressed, rawBytes: captured.readableBytes, createdAt: now, expiresAt: ttl == 0 ? nil : now + Double(ttl),
            promptTokens: verdict.promptTokens, completionTokens: verdict.completionTokens, semantic: call.probe?.record
        )
        let cached = CachedAnswer(entry: entry, identityBody: captured)
        // The next identical request to this instance must be a HIT: once the answer is in the
        // memory tier the clients may finish before the store write; without the memory tier
        // (off, or the answer is larger than it) they finish after it.
        let persisted: Bool
        if tiers.memory.put(cached) {
            if registered { coalescer.remove(key, answer) }
            answer.finish()
            persisted = await tiers.persist(cached)
        } else {
            persisted = await tiers.persist(cached)
            if registered { coalescer.remove(key, answer) }
            answer.finish()
        }
        if persisted, let record = call.probe?.record {
            semantic?.insert(key: storeKey, record)
        }
    }
}
