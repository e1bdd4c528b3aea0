import Foundation
import Synchronization

/// A count with two readings: since the last `/stats/reset` (`load`, for `/stats`) and for the
/// life of the process (`lifetime`, for `/metrics`, whose counters must never go back). A reset
/// moves the baseline; it never rewinds the count. Spelled like `Atomic<Int>` so counting sites
/// read the same; every access is relaxed (a count orders nothing), whatever ordering is named.
public final class ResettableCount: Sendable {
    private let total = Atomic<Int>(0)
    private let baseline = Atomic<Int>(0)

    public init() {}

    public func add(_ n: Int, ordering _: AtomicUpdateOrdering = .relaxed) {
        total.add(n, ordering: .relaxed)
    }

    /// Since the last reset.
    public func load(ordering _: AtomicLoadOrdering = .relaxed) -> Int {
        max(0, total.load(ordering: .relaxed) - baseline.load(ordering: .relaxed))
    }

    /// Since the process started; never decreases.
    public var lifetime: Int { total.load(ordering: .relaxed) }

    func reset() {
        baseline.store(total.load(ordering: .relaxed), ordering: .relaxed)
    }
}

/// Counters behind `/stats` and `/metrics`. Atomics on the hot path; the per-model savings
/// table takes a short lock only when an answer is served from cache.
public final class Stats: Sendable {
    public enum Outcome: String, Sendable {
        case hit = "HIT"
        case semantic = "SEMANTIC"
        case miss = "MISS"
        case bypass = "BYPASS"
        case stale = "STALE"
        /// An embeddings batch with some inputs from the cache and some fetched.
        case partial = "PARTIAL"
    }

    public let startedAt = ContinuousClock.now
    public let requests = ResettableCount()
    public let hits = ResettableCount()
    public let semanticHits = ResettableCount()
    public let misses = ResettableCount()
    public let bypass = ResettableCount()
    public let stale = ResettableCount()
    /// Embeddings batches with some inputs cached; not in `hit_rate`.
    public let partialHits = ResettableCount()
    /// Embeddings inputs (positions, a duplicate each time) answered from the cache / not.
    public let embeddingInputsCached = ResettableCount()
    public let embeddingInputsFetched = ResettableCount()
    /// Offline requests (`only-if-cached`, replay mode) the cache could not answer: the dry run.
    public let offlineMisses = ResettableCount()

    /// `/stats.cache.by_endpoint`: outcomes per cached endpoint, since the last reset.
    public final class EndpointCounters: Sendable {
        /// Exact, semantic and stale answers.
        public let hits = ResettableCount()
        public let misses = ResettableCount()
        public let partialHits = ResettableCount()
        init() {}
        func reset() { for count in [hits, misses, partialHits] { count.reset() } }
    }

    private let endpointCounters: [Endpoint: EndpointCounters] =
        Dictionary(uniqueKeysWithValues: Endpoint.allCases.map { ($0, EndpointCounters()) })

    public func endpoint(_ endpoint: Endpoint) -> EndpointCounters { endpointCounters[endpoint]! }

    public let hitLatency = LatencyHistogram()
    public let missLatency = LatencyHistogram()
    public let upstreamLatency = LatencyHistogram()
    public let overheadLatency = LatencyHistogram()

    public struct Savings: Sendable, Equatable {
        public var promptTokens = 0
        public var completionTokens = 0
        public var answers = 0
    }

    /// Per-model savings since the last reset (`/stats`) and for the process's life (`/metrics`).
    private let savings = Mutex<SavingsTables>(SavingsTables())

    private struct SavingsTables {
        var sinceReset: [String: Savings] = [:]
        var lifetime: [String: Savings] = [:]
        /// Since the last reset, per endpoint.
        var byEndpoint: [Endpoint: [String: Savings]] = [:]
        /// Offline misses' estimated tokens per model, since the last reset.
        var offline: [String: Savings] = [:]
    }
    private let providerCounters: [String: ProviderCounters]

    public final class ProviderCounters: Sendable {
        public let requests = ResettableCount()
        public let errors = ResettableCount()
        public let rateLimited = ResettableCount()
        init() {}
        func reset() {
            requests.reset()
            errors.reset()
            rateLimited.reset()
        }
    }

    public init(providers: some Sequence<String>) {
        var counters: [String: ProviderCounters] = [:]
        for name in providers { counters[name] = ProviderCounters() }
        providerCounters = counters
    }

    public func provider(_ name: String) -> ProviderCounters? { providerCounters[name] }

    /// Upstream calls of every provider, for the life of the process.
    public var upstreamCallsLifetime: Int { providerCounters.values.reduce(0) { $0 + $1.requests.lifetime } }

    /// Counts an outcome; with its endpoint, also in `by_endpoint` (bypass is not shown there).
    public func count(_ outcome: Outcome, endpoint: Endpoint? = nil) {
        if let endpoint, let counters = endpointCounters[endpoint] {
            switch outcome {
            case .hit, .semantic, .stale: counters.hits.add(1)
            case .miss: counters.misses.add(1)
            case .partial: counters.partialHits.add(1)
            case .bypass: break
            }
        }
        switch outcome {
        case .hit: hits.add(1, ordering: .relaxed)
        case .semantic: semanticHits.add(1, ordering: .relaxed)
        case .miss: misses.add(1, ordering: .relaxed)
        case .bypass: bypass.add(1, ordering: .relaxed)
        case .stale: stale.add(1, ordering: .relaxed)
        case .partial: partialHits.add(1, ordering: .relaxed)
        }
    }

    /// Records the tokens an answer served from cache did not cost.
    /// Past `maxModels` distinct names, further models are counted under `otherModels`:
    /// clients choose model names, and the table must not grow with them.
    public func recordSaved(model: String, promptTokens: Int, completionTokens: Int, endpoint: Endpoint? = nil) {
        savings.withLock { tables in
            Self.add(model: model, promptTokens, completionTokens, to: &tables.sinceReset)
            Self.add(model: model, promptTokens, completionTokens, to: &tables.lifetime)
            if let endpoint { Self.add(model: model, promptTokens, completionTokens, to: &tables.byEndpoint[endpoint, default: [:]]) }
        }
    }

    /// Records what an offline miss would have cost had it been fetched (the TPM bucket's
    /// estimate: prompt characters / 4 in, the requested completion budget out).
    public func recordOfflineMiss(model: String, promptTokens: Int, completionTokens: Int) {
        offlineMisses.add(1)
        savings.withLock { tables in
            Self.add(model: model, promptTokens, completionTokens, to: &tables.offline)
        }
    }

    private static func add(model: String, _ promptTokens: Int, _ completionTokens: Int, to table: inout [String: Savings]) {
        let name = table.count < Self.maxModels || table[model] != nil ? model : Self.otherModels
        table[name, default: Savings()].promptTokens += promptTokens
        table[name, default: Savings()].completionTokens += completionTokens
        table[name, default: Savings()].answers += 1
    }

    /// Model names `/stats` keeps apart (DESIGN.md); the rest share `otherModels`.
    public static let maxModels = 1000
    public static let otherModels = "(other)"

    /// Since the last reset.
    public func savingsByModel() -> [String: Savings] { savings.withLock { $0.sinceReset } }

    /// Since the last reset, for one endpoint.
    public func savingsByModel(endpoint: Endpoint) -> [String: Savings] { savings.withLock { $0.byEndpoint[endpoint] ?? [:] } }

    /// Offline misses' estimated tokens per model, since the last reset.
    public func offlineMissesByModel() -> [String: Savings] { savings.withLock { $0.offline } }

    /// For the process's life.
    public func lifetimeSavingsByModel() -> [String: Savings] { savings.withLock { $0.lifetime } }

    public var uptimeSeconds: Double {
        let d = ContinuousClock.now - startedAt
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Starts `/stats` again from zero. `/metrics` counters keep counting (`lifetime`).
    public func reset() {
        for count in [requests, hits, semanticHits, misses, bypass, stale, offlineMisses, partialHits, embeddingInputsCached,
                      embeddingInputsFetched] { count.reset() }
        for histogram in [hitLatency, missLatency, upstreamLatency, overheadLatency] { histogram.reset() }
        for counters in endpointCounters.values { counters.reset() }
        savings.withLock { tables in
            tables.sinceReset = [:]
            tables.byEndpoint = [:]
            tables.offline = [:]
        }
        for counters in providerCounters.values { counters.reset() }
    }
}
