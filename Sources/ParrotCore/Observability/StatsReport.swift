import Foundation

/// Builds the `/stats` document of DESIGN.md from the live counters and the store summary.
struct StatsReport {
    let config: ProxyConfig
    let stats: Stats
    let providers: [String: Provider]
    let summary: StoreSummary?
    let tiers: CacheTiers
    let semantic: SemanticTier?

    func json() -> JSONValue {
        let hits = stats.hits.load(ordering: .relaxed)
        let semantic = stats.semanticHits.load(ordering: .relaxed)
        let stale = stats.stale.load(ordering: .relaxed)
        let misses = stats.misses.load(ordering: .relaxed)
        let served = hits + semantic + stale
        let hitRate = served + misses > 0 ? Double(served) / Double(served + misses) : 0

        var tokensSaved = 0
        var cost = 0.0
        var unpriced: [String] = []
        var byModel: [(String, JSONValue)] = []
        for (model, saving) in stats.savingsByModel().sorted(by: { $0.key < $1.key }) {
            let tokens = saving.promptTokens + saving.completionTokens
            tokensSaved += tokens
            var modelCost: JSONValue = .null
            if let c = self.cost(of: saving, model: model) {
                cost += c
                modelCost = Self.number(c, digits: 6)
            } else {
                unpriced.append(model)
            }
            byModel.append((model, .object([
                ("answers", .int(saving.answers)), ("prompt_tokens", .int(saving.promptTokens)),
                ("completion_tokens", .int(saving.completionTokens)), ("cost_saved_usd", modelCost),
            ])))
        }

        let offline = savings(stats.offlineMissesByModel())
        let byEndpoint: [(String, JSONValue)] = Endpoint.allCases.map { endpoint in
            let counters = stats.endpoint(endpoint)
            let saved = savings(stats.savingsByModel(endpoint: endpoint))
            return (endpoint.rawValue, .object([
                ("hits", .int(counters.hits.load())), ("misses", .int(counters.misses.load())),
                ("partial_hits", .int(counters.partialHits.load())), ("tokens_saved", .int(saved.tokens)),
                ("cost_saved_usd", Self.number(saved.cost, digits: 6)),
            ]))
        }

        let cache: JSONValue = .object([
            ("hits", .int(hits)), ("semantic_hits", .int(semantic)), ("misses", .int(misses)),
            ("bypass", .int(stats.bypass.load(ordering: .relaxed))), ("stale", .int(stale)),
            ("hit_rate", Self.number(hitRate, digits: 4)),
            ("entries", summary.map { .int($0.entries) } ?? .null),
            ("bytes", summary.map { .int($0.bytes) } ?? .null),
            ("compression_ratio", summary.map { Self.number($0.compressionRatio, digits: 3) } ?? .null),
            ("tokens_saved", .int(tokensSaved)),
            ("cost_saved_usd", Self.number(cost, digits: 6)),
            ("partial_hits", .int(stats.partialHits.load(ordering: .relaxed))),
            ("embedding_inputs_cached", .int(stats.embeddingInputsCached.load(ordering: .relaxed))),
            ("embedding_inputs_fetched", .int(stats.embeddingInputsFetched.load(ordering: .relaxed))),
            ("offline_misses", .int(stats.offlineMisses.load())),
            ("offline_miss_tokens", .int(offline.tokens)),
            ("offline_miss_cost_usd", Self.number(offline.cost, digits: 6)),
            ("by_model", .object(byModel)),
            ("by_endpoint", .object(byEndpoint)),
            ("unpriced_models", .array(unpriced.map(JSONValue.string))),
            ("memory_entries", .int(tiers.memory.count)),
            ("memory_bytes", .int(tiers.memory.bytes)),
            ("store", .string(config.cache.store)),
            ("store_status", .string(summary != nil && tiers.isStoreHealthy ? "ok" : "unreachable")),
        ])

        let latency: JSONValue = .object([
            ("hit", Self.latency(stats.hitLatency.snapshot())),
            ("miss", Self.latency(stats.missLatency.snapshot())),
            ("upstream", Self.latency(stats.upstreamLatency.snapshot())),
            ("overhead", Self.latency(stats.overheadLatency.snapshot())),
        ])

        let providerReports: [(String, JSONValue)] = providers.keys.sorted().map { name in
            let provider = providers[name]!
            let counters = stats.provider(name)
            return (name, .object([
                ("requests", .int(counters?.requests.load(ordering: .relaxed) ?? 0)),
                ("errors", .int(counters?.errors.load(ordering: .relaxed) ?? 0)),
                ("rate_limited", .int(counters?.rateLimited.load(ordering: .relaxed) ?? 0)),
                ("breaker", provider.upstream.breakerReport()),
                ("limits", provider.upstream.limitsReport()),
                ("pool", .object([("in_flight", .int(provider.upstream.inFlight)), ("max_connections", .int(provider.config.maxConnections))])),
            ]))
        }

        return .object([
            ("uptime_s", Self.number(stats.uptimeSeconds, digits: 3)),
            ("requests", .int(stats.requests.load(ordering: .relaxed))),
            ("cache", cache),
            ("latency_ms", latency),
            ("providers", .object(providerReports)),
            ("memory", .object([("rss_bytes", .int(ProcessMemory.residentBytes()))])),
            ("semantic", self.semantic?.report() ?? .object([("enabled", .bool(false))])),
        ])
    }

    /// What `saving` did not cost, in USD; nil for an unpriced model.
    func cost(of saving: Stats.Savings, model: String) -> Double? {
        guard let price = config.price(for: model) else { return nil }
        return (Double(saving.promptTokens) * price.inputPerMTok + Double(saving.completionTokens) * price.outputPerMTok) / 1_000_000
    }

    /// Tokens and USD saved over a savings table (unpriced models add tokens, no cost).
    func savings(_ table: [String: Stats.Savings]) -> (tokens: Int, cost: Double) {
        table.reduce(into: (0, 0.0)) { total, entry in
            total.0 += entry.value.promptTokens + entry.value.completionTokens
            total.1 += cost(of: entry.value, model: entry.key) ?? 0
        }
    }

    static func latency(_ s: LatencyHistogram.Snapshot) -> JSONValue {
        .object([
            ("count", .int(Int(s.count))), ("p50", number(s.p50, digits: 3)), ("p95", number(s.p95, digits: 3)),
            ("p99", number(s.p99, digits: 3)), ("max", number(s.max, digits: 3)),
        ])
    }

    static func number(_ value: Double, digits: Int) -> JSONValue {
        guard value.isFinite else { return .number("0") }
        let scale = pow(10.0, Double(digits))
        return .number(JSONValue.canonicalNumber((value * scale).rounded() / scale))
    }
}
