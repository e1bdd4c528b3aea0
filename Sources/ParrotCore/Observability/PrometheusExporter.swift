import Prometheus
import Synchronization

/// `/metrics`: the facts of `/stats` as Prometheus series with the `parrot_` prefix. Counters
/// are monotonic for the life of the process (a `/stats/reset` does not rewind them); labels are
/// limited to provider names and a fixed set of operations, so cardinality stays bounded.
final class PrometheusExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let lastSeen = Mutex<[String: Int]>([:])

    init() {}

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], value: Int) {
        let id = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = lastSeen.withLock { seen -> Int in
            let previous = seen[id] ?? 0
            seen[id] = value
            return value >= previous ? value - previous : value
        }
        let counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], value: Double) {
        let gauge = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
        gauge.set(to: value)
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    func render(_ report: StatsReport) -> String {
        let json = report.json()
        let cache = json["cache"]!
        counter("parrot_requests_total", "Requests to /v1/*", value: json["requests"]?.intValue ?? 0)
        for (name, field) in [("hit", "hits"), ("semantic", "semantic_hits"), ("miss", "misses"), ("bypass", "bypass"), ("stale", "stale")] {
            counter("parrot_cache_requests_total", "Cache outcomes", [("outcome", name)], value: cache[field]?.intValue ?? 0)
        }
        gauge("parrot_cache_hit_ratio", "Served from cache / (served from cache + misses)", value: cache["hit_rate"]?.doubleValue ?? 0)
        gauge("parrot_cache_entries", "Entries in the store", value: cache["entries"]?.doubleValue ?? 0)
        gauge("parrot_cache_bytes", "Stored compressed body bytes", value: cache["bytes"]?.doubleValue ?? 0)
        gauge("parrot_cache_compression_ratio", "Uncompressed / stored bytes", value: cache["compression_ratio"]?.doubleValue ?? 0)
        gauge("parrot_cache_memory_bytes", "Bytes held by the memory tier", value: cache["memory_bytes"]?.doubleValue ?? 0)
        counter("parrot_tokens_saved_total", "Tokens of answers served from cache", value: cache["tokens_saved"]?.intValue ?? 0)
        gauge("parrot_cost_saved_usd", "USD not spent thanks to the cache", value: cache["cost_saved_usd"]?.doubleValue ?? 0)
        for op in ["hit", "miss", "upstream", "overhead"] {
            let l = json["latency_ms"]?[op]
            for (q, field) in [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"), ("1", "max")] {
                gauge("parrot_latency_ms", "Latency percentiles in milliseconds", [("op", op), ("quantile", q)], value: l?[field]?.doubleValue ?? 0)
            }
            gauge("parrot_latency_count", "Observations per operation", [("op", op)], value: l?["count"]?.doubleValue ?? 0)
        }
        for (name, provider) in json["providers"]?.objectValue ?? [] {
            let labels = [("provider", name)]
            counter("parrot_provider_requests_total", "Upstream calls, retries included", labels, value: provider["requests"]?.intValue ?? 0)
            counter("parrot_provider_errors_total", "Upstream failures (5xx, 429, connection errors, timeouts)", labels, value: provider["errors"]?.intValue ?? 0)
            counter("parrot_provider_rate_limited_total", "Requests refused by Parrot's rate limiter", labels, value: provider["rate_limited"]?.intValue ?? 0)
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
