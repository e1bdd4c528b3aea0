/// The Lookup stage: memory tier, then the store, for one request's key and mode; then the
/// semantic tier (`similar`). The async
/// responder and the event-loop hit path (which may not await, so it asks `inMemory` only)
/// share it, so both serve exactly the same answers.
struct Lookup: Sendable {
    let tiers: CacheTiers
    let clock: any ParrotClock

    /// The exact-tier lookup: the key, and for a streamed request on an endpoint that converts,
    /// the stream stored beside it (a chat stream without `usage`, which cannot answer a plain
    /// request). An entry of the other mode that cannot serve this request is a miss here, so
    /// the fresh answer is fetched and stored.
    func find(_ key: CacheKey, endpoint: Endpoint, streamed: Bool, maxAge: Int?) async -> CacheTiers.Lookup {
        let first = await tiers.lookup(key, now: clock.now, maxAge: maxAge)
        switch first {
        case .hit(let answer), .expired(let answer):
            if Self.canServe(answer.entry, endpoint: endpoint, streamed: streamed) { return first }
        case .miss, .storeFailed:
            break
        }
        guard streamed, endpoint.convertsBetweenModes else {
            if case .storeFailed = first { return first }
            return .miss
        }
        return await tiers.lookup(key.besideForStreams, now: clock.now, maxAge: maxAge)
    }

    /// A fresh memory-tier answer that can serve a request of this mode: the key's own entry,
    /// or for a stream the one stored beside it. No store access, no await: the repeat path,
    /// the event-loop hit path and the coalescing leader's re-check use it.
    func inMemory(_ key: CacheKey, endpoint: Endpoint, streamed: Bool, maxAge: Int?) -> CachedAnswer? {
        let now = clock.now
        func usable(_ answer: CachedAnswer?) -> CachedAnswer? {
            guard let answer, answer.entry.isFresh(at: now), maxAge.map({ answer.entry.age(at: now) <= $0 }) ?? true,
                  Self.canServe(answer.entry, endpoint: endpoint, streamed: streamed)
            else { return nil }
            return answer
        }
        if let answer = usable(tiers.memory.get(key)) { return answer }
        guard streamed, endpoint.convertsBetweenModes else { return nil }
        return usable(tiers.memory.get(key.besideForStreams))
    }

    /// Whether a stored entry can answer a request of this mode: its own mode always; the other
    /// mode only where the endpoint converts, and a stream becomes JSON only when it carries
    /// `usage`.
    static func canServe(_ entry: CacheEntry, endpoint: Endpoint, streamed: Bool) -> Bool {
        let wanted: CacheEntry.Mode = streamed ? .sse : .json
        if entry.mode == wanted { return true }
        guard endpoint.convertsBetweenModes else { return false }
        return wanted == .sse || entry.promptTokens + entry.completionTokens > 0
    }

    /// The semantic tier: the stored answer of the closest indexed request within the
    /// threshold. A sample set's family is indexed by its first sample; a hit takes the
    /// family's samples in turn. An indexed key whose entry is gone leaves the index.
    func similar(_ probe: SemanticTier.Probe, in semantic: SemanticTier, maxAge: Int?, samples: Int,
                 rotation: SampleRotation) async -> (answer: CachedAnswer, key: CacheKey, similarity: Float)? {
        guard let match = semantic.search(probe) else { return nil }
        if samples > 1 {
            let turn = rotation.take(match.key, of: samples)
            if turn > 0, case .hit(let answer) = await tiers.lookup(match.key.sample(turn), now: clock.now, maxAge: maxAge) {
                return (answer, match.key.sample(turn), match.similarity)
            }
        }
        switch await tiers.lookup(match.key, now: clock.now, maxAge: maxAge) {
        case .hit(let answer):
            return (answer, match.key, match.similarity)
        case .miss:
            semantic.index.remove(match.key)  // evicted or cleared since it was indexed
        case .expired, .storeFailed:
            break
        }
        return nil
    }
}
