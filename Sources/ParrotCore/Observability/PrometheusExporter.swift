import Prometheus
import Synchronization

/// `/metrics`: Parrot's facts as Prometheus series with the `parrot_` prefix, by Prometheus's
/// conventions: counts are counters ending in `_total`, monotonic for the life of the process
/// (read from the lifetime side of `Stats`, so a `/stats/reset` never rewinds them); durations
/// are histograms in seconds, recorded when a request completes; no quantile gauges. Labels are
/// limited to provider names and fixed sets of outcomes and states, so cardinality stays bounded.
/// The names are listed in `names` and documented in docs/operations.md.
final class PrometheusExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// What each counter has been incremented to so far: a counter can only be incremented, so
    /// a render adds the difference to the lifetime value it reads.
    private let lastSeen = Mutex<[String: Double]>([:])
    private let requestDurations: [String: DurationHistogram]
    private let upstreamDurations: [String: DurationHistogram]

    /// `outcome` label values of `parrot_request_duration_seconds`: the cache outcomes, and
    /// `none` for requests the cache does not answer (pass-through `/v1/*`).
    static let outcomes = ["hit", "semantic", "stale", "miss", "bypass", "partial", "none"]

    /// Seconds: a memory hit takes well under a millisecond, a long completion minutes.
    static let durationBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    /// Every series family `/metrics` exposes, with its type: the list docs/operations.md
    /// documents and a test holds it to.
    static let names: [(name: String, type: String)] = [
        ("parrot_requests_total", "counter"),
        ("parrot_cache_requests_total", "counter"),
        ("parrot_tokens_saved_total", "counter"),
        ("parrot_cost_saved_usd_total", "counter"),
        ("parrot_request_duration_seconds", "histogram"),
        ("parrot_upstream_duration_seconds", "histogram"),
        ("parrot_provider_requests_total", "counter"),
        ("parrot_provider_errors_total", "counter"),
        ("parrot_provider_rate_limited_total", "counter"),
        ("parrot_provider_breaker_state", "gauge"),
        ("parrot_provider_breaker_failures", "gauge"),
        ("parrot_provider_in_flight", "gauge"),
        ("parrot_provider_remaining_requests", "gauge"),
        ("parrot_provider_remaining_tokens", "gauge"),
        ("parrot_cache_hit_ratio", "gauge"),
        ("parrot_cache_entries", "gauge"),
        ("parrot_cache_bytes", "gauge"),
        ("parrot_cache_compression_ratio", "gauge"),
        ("parrot_cache_memory_bytes", "gauge"),
        ("parrot_memory_rss_bytes", "gauge"),
        ("parrot_uptime_seconds", "gauge"),
    ]

    init(providers: some Sequence<String>) {
        var requests: [String: DurationHistogram] = [:]
        for outcome in Self.outcomes {
            requests[outcome] = registry.makeDurationHistogram(
                descriptor: Self.descriptor("parrot_request_duration_seconds", "Time from request to the last byte of the answer, by cache outcome"),
                labels: [("outcome", outcome)], buckets: Self.durationBuckets)
        }
        var upstream: [String: DurationHistogram] = [:]
        for provider in providers {
            upstream[provider] = registry.makeDurationHistogram(
                descriptor: Self.descriptor("parrot_upstream_duration_seconds", "Time the provider took to answer a fetch, retries included"),
                labels: [("provider", provider)], buckets: Self.durationBuckets)
        }
        requestDurations = requests
        upstreamDurations = upstream
    }

    /// A completed request: `outcome` nil for requests the cache does not answer.
    func observeRequest(outcome: Stats.Outcome?, duration: Duration) {
        let label = switch outcome {
        case .hit: "hit"
        case .semantic: "semantic"
        case .stale: "stale"
        case .miss: "miss"
        case .bypass: "bypass"
        case .partial: "partial"
        case nil: "none"
        }
        requestDurations[label]?.record(duration)
    }

    /// A completed upstream fetch (once per fetch, not per client that shared it).
    func observeUpstream(provider: String, duration: Duration) {
        upstreamDurations[provider]?.record(duration)
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], lifetime value: Double) {
        let id = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = lastSeen.withLock { seen -> Double in
            let previous = seen[id] ?? 0
            guard value > previous else { return 0 }
            seen[id] = value
            return value - previous
        }
        let counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        if delta > 0 { counter.increment(by: delta) }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], value: Double) {
        let gauge = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
        gauge.set(to: value)
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func render(_ report: StatsReport) -> String {
        let stats = report.stats
        let json = report.json()
        let cache = json["cache"]!
        counter("parrot_requests_total", "Requests to /v1/*", lifetime: Double(stats.requests.lifetime))
        for (name, count) in [("hit", stats.hits), ("semantic", stats.semanticHits), ("miss", stats.misses), ("bypass", stats.bypass), ("stale", stats.stale),
                              ("partial", stats.partialHits), ("offline_miss", stats.offlineMisses)] {
            counter("parrot_cache_requests_total", "Requests by cache outcome", [("outcome", name)], lifetime: Double(count.lifetime))
        }
        for (source, count) in [("cached", stats.embeddingInputsCached), ("fetched", stats.embeddingInputsFetched)] {
            counter("parrot_embedding_inputs_total", "Embeddings inputs (positions) by where their vector came from", [("source", source)],
                    lifetime: Double(count.lifetime))
        }
        let lifetime = report.savings(stats.lifetimeSavingsByModel())
        counter("parrot_tokens_saved_total", "Tokens of answers served from cache", lifetime: Double(lifetime.tokens))
        counter("parrot_cost_saved_usd_total", "USD not spent thanks to the cache (priced models only)", lifetime: lifetime.cost)
        gauge("parrot_cache_hit_ratio", "Served from cache / (served from cache + misses), since the last stats reset", value: cache["hit_rate"]?.doubleValue ?? 0)
        gauge("parrot_cache_entries", "Entries in the store", value: cache["entries"]?.doubleValue ?? 0)
        gauge("parrot_cache_bytes", "Stored compressed body bytes", value: cache["bytes"]?.doubleValue ?? 0)
        gauge("parrot_cache_compression_ratio", "Uncompressed / stored bytes", value: cache["compression_ratio"]?.doubleValue ?? 0)
        gauge("parrot_cache_memory_bytes", "Bytes held by the memory tier", value: cache["memory_bytes"]?.doubleValue ?? 0)
        for (name, provider) in json["providers"]?.objectValue ?? [] {
            let labels = [("provider", name)]
            let counts = stats.provider(name)
            counter("parrot_provider_requests_total", "Upstream calls, retries included", labels, lifetime: Double(counts?.requests.lifetime ?? 0))
            counter("parrot_provider_errors_total", "Upstream failures (5xx, 429, connection errors, timeouts)", labels, lifetime: Double(counts?.errors.lifetime ?? 0))
            counter("parrot_provider_rate_limited_total", "Requests refused by Parrot's rate limiter", labels, lifetime: Double(counts?.rateLimited.lifetime ?? 0))
            let state = provider["breaker"]?["state"]?.stringValue ?? "closed"
            for s in ["closed", "open", "half_open"] {
                gauge("parrot_provider_breaker_state", "1 for the breaker's current state", labels + [("state", s)], value: s == state ? 1 : 0)
            }
            gauge("parrot_provider_breaker_failures", "Consecutive failures", labels, value: provider["breaker"]?["failures"]?.doubleValue ?? 0)
            gauge("parrot_provider_in_flight", "Upstream requests in flight", labels, value: provider["pool"]?["in_flight"]?.doubleValue ?? 0)
            if let r = provider["limits"]?["remaining_requests"]?.doubleValue {
                gauge("parrot_provider_remaining_requests", "Requests left in the RPM bucket", labels, value: r)
            }
            if let t = provider["limits"]?["remaining_tokens"]?.doubleValue {
                gauge("parrot_provider_remaining_tokens", "Tokens left in the TPM bucket", labels, value: t)
            }
        }
        gauge("parrot_memory_rss_bytes", "Resident set size", value: json["memory"]?["rss_bytes"]?.doubleValue ?? 0)
        gauge("parrot_uptime_seconds", "Seconds since start", value: json["uptime_s"]?.doubleValue ?? 0)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
