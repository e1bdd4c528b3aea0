import HTTPTypes
import Hummingbird

extension ProxyEngine {
    // MARK: sample sets

    static let sampleHeader = HTTPField.Name("X-Parrot-Sample")!

    /// A request on a sample set (`X-Parrot-Samples: N`, `cache.samples`, `X-Parrot-Sample: i`):
    /// up to N answers live under one key, sample i at `key.sample(i)`. While fewer than N are
    /// stored, a request fetches the next one (MISS); once N are, they are served in rotation
    /// (HIT). Every answer carries `X-Parrot-Sample: i`.
    func sampled(_ call: Call, key: CacheKey, namespace: String, decision: CachePolicy.Decision) async -> Response {
        let policy = call.policy
        var call = call
        let index: Int
        var response: Response
        if let asked = policy.sample {
            index = asked
            response = await answer(call, key: key.sample(index), namespace: namespace, decision: decision, semantic: false)
        } else {
            let stored = await storedSamples(call, key: key, upTo: policy.samples)
            let full = stored.count == policy.samples
            if policy.offline {
                // Nothing may be fetched: rotate among what was recorded.
                guard !stored.isEmpty else { return offlineMiss(call, key: key, reason: Self.offlineReason(policy)) }
                index = sampleRotation.take(key, of: stored.count)
            } else {
                // The next sample while the set fills; once full, each in turn (a re-record
                // replaces them in the same order).
                index = full ? sampleRotation.take(key, of: stored.count) : stored.count
            }
            if policy.lookup, index < stored.count,
               let served = serve(stored[index], call: call, outcome: .hit, key: key.sample(index)) {
                // Found while counting: no second lookup.
                response = served
            } else if policy.fetch {
                // An empty set may be answered by a similar request's family (its samples in
                // rotation); its first sample is the one the semantic tier indexes.
                if policy.lookup, stored.isEmpty, let semantic = await semanticAnswer(&call, namespace: namespace) { return semantic }
                if index > 0 {
                    call.probe = nil
                    // A later sample expires with the family's first (the set lives and dies as one).
                    call.storage = Self.familyStorage(call.storage, firstExpiry: stored.first?.entry.expiresAt, now: now())
                }
                response = await miss(call, key: key.sample(index), namespace: namespace, coalesce: policy.lookup)
            } else {
                response = await answer(call, key: key.sample(index), namespace: namespace, decision: decision, semantic: false)
            }
        }
        response.headers[Self.sampleHeader] = String(index)
        return response
    }

    /// The stored, fresh samples of the set, counting from sample 0 (a set is filled in order,
    /// so the first missing one ends it).
    private func storedSamples(_ call: Call, key: CacheKey, upTo limit: Int) async -> [CachedAnswer] {
        var stored: [CachedAnswer] = []
        for index in 0..<limit {
            guard case .hit(let answer) = await lookup(key.sample(index), for: call, maxAge: call.policy.maxAge) else { break }
            stored.append(answer)
        }
        return stored
    }

    /// A later sample is kept until the first one expires, not for a TTL of its own.
    static func familyStorage(_ storage: CachePolicy.Storage, firstExpiry: Double?, now: Double) -> CachePolicy.Storage {
        guard case .keep = storage, let firstExpiry else { return storage }
        return .keep(ttlSeconds: max(1, Int((firstExpiry - now).rounded(.up))))
    }
}
