import Foundation
import Synchronization

/// Counters behind `/stats` and `/metrics`. Atomics on the hot path; the per-model savings
/// table takes a short lock only when an answer is served from cache.
public final class Stats: Sendable {
    public enum Outcome: String, Sendable {
        case hit = "HIT"
        case semantic = "SEMANTIC"
        case miss = "MISS"
        case bypass = "BYPASS"
        case stale = "STALE"
    }

    public let startedAt = ContinuousClock.now
    public let requests = Atomic<Int>(0)
    public let hits = Atomic<Int>(0)
    public let semanticHits = Atomic<Int>(0)
    public let misses = Atomic<Int>(0)
    public let bypass = Atomic<Int>(0)
    public let stale = Atomic<Int>(0)

    public let hitLatency = LatencyHistogram()
    public let missLatency = LatencyHistogram()
    public let upstreamLatency = LatencyHistogram()
    public let overheadLatency = LatencyHistogram()

    public struct Savings: Sendable, Equatable {
        public var promptTokens = 0
        public var completionTokens = 0
        public var answers = 0
    }

    private let savings = Mutex<[String: Savings]>([:])
    private let providerCounters: [String: ProviderCounters]

    public final class ProviderCounters: Sendable {
        public let requests = Atomic<Int>(0)
        public let errors = Atomic<Int>(0)
        public let rateLimited = Atomic<Int>(0)
        init() {}
        func reset() {
            requests.store(0, ordering: .relaxed)
            errors.store(0, ordering: .relaxed)
            rateLimited.store(0, ordering: .relaxed)
        }
    }

    public init(providers: some Sequence<String>) {
        var counters: [String: ProviderCounters] = [:]
        for name in providers { counters[name] = ProviderCounters() }
        providerCounters = counters
    }

    public func provider(_ name: String) -> ProviderCounters? { providerCounters[name] }

    public func count(_ outcome: Outcome) {
        switch outcome {
        case .hit: hits.add(1, ordering: .relaxed)
        case .semantic: semanticHits.add(1, ordering: .relaxed)
        case .miss: misses.add(1, ordering: .relaxed)
        case .bypass: bypass.add(1, ordering: .relaxed)
        case .stale: stale.add(1, ordering: .relaxed)
        }
    }

    /// Records the tokens an answer served from cache did not cost.
    /// Past `maxModels` distinct names, further models are counted under `otherModels`:
    /// clients choose model names, and the table must not grow with them.
    public func recordSaved(model: String, promptTokens: Int, completionTokens: Int) {
        savings.withLock { table in
            let name = table.count < Self.maxModels || table[model] != nil ? model : Self.otherModels
            table[name, default: Savings()].promptTokens += promptTokens
            table[name, default: Savings()].completionTokens += completionTokens
            table[name, default: Savings()].answers += 1
        }
    }

    /// Model names `/stats` keeps apart (DESIGN.md); the rest share `otherModels`.
    public static let maxModels = 1000
    public static let otherModels = "(other)"

    public func savingsByModel() -> [String: Savings] { savings.withLock { $0 } }

    public var uptimeSeconds: Double {
        let d = ContinuousClock.now - startedAt
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    public func reset() {
        requests.store(0, ordering: .relaxed)
        hits.store(0, ordering: .relaxed)
        semanticHits.store(0, ordering: .relaxed)
        misses.store(0, ordering: .relaxed)
        bypass.store(0, ordering: .relaxed)
        stale.store(0, ordering: .relaxed)
        for histogram in [hitLatency, missLatency, upstreamLatency, overheadLatency] { histogram.reset() }
        savings.withLock { $0 = [:] }
        for counters in providerCounters.values { counters.reset() }
    }
}
