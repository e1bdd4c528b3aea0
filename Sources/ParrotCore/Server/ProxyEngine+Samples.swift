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
            let (stored, firstExpiry) = await storedSamples(call, key: key, upTo: policy.samples)
            let full = stored == policy.samples
            if policy.offline {
                // Nothing may be fetched: rotate among what was recorded.
                guard stored > 0 else { return offlineMiss(call, key: key, reason: Self.offlineReason(policy)) }
                index = sampleRotation.take(key, of: stored)
            } else {
                // The next sample while the set fills; once full, each in turn (a re-record
                // replaces them in the same order).
                index = full ? sampleRotation.take(key, of: stored) : stored
            }
            if case .lookUp(let onMiss) = decision, !full, case .fetch(let storage) = onMiss {
                // An empty set may be answered by a similar request's family (its samples in
                // rotation); its first sample is the one the semantic tier indexes.
                if stored == 0, let semantic = await semanticAnswer(&call, namespace: namespace) { return semantic }
                if index > 0 { call.probe = nil }
                // Fewer than N stored: this request fetches the next one, which expires with the
                // family's first sample (the set lives and dies as one).
                call.storage = Self.familyStorage(storage, firstExpiry: firstExpiry, now: now())
                response = await miss(call, key: key.sample(index), namespace: namespace, coalesce: true)
            } else {
                response = await answer(call, key: key.sample(index), namespace: namespace, decision: decision, semantic: false)
            }
        }
        response.headers[Self.sampleHeader] = String(index)
        return response
    }

    /// How many samples of the set are stored and fresh, counting from sample 0 (a set is
    /// filled in order, so the first missing one ends it), and when sample 0 expires.
    private func storedSamples(_ call: Call, key: CacheKey, upTo limit: Int) async -> (count: Int, firstExpiry: Double?) {
        var firstExpiry: Double?
        for index in 0..<limit {
            guard case .hit(let answer) = await lookup(key.sample(index), for: call, maxAge: call.policy.maxAge) else {
                return (index, firstExpiry)
            }
            if index == 0 { firstExpiry = answer.entry.expiresAt }
        }
        return (limit, firstExpiry)
    }

    /// A later sample is kept until the first one expires, not for a TTL of its own.
    static func familyStorage(_ storage: CachePolicy.Storage, firstExpiry: Double?, now: Double) -> CachePolicy.Storage {
        guard case .keep = storage, let firstExpiry else { return storage }
        return .keep(ttlSeconds: max(1, Int((firstExpiry - now).rounded(.up))))
    }
}
