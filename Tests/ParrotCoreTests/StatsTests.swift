import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParrotCore
import ParrotMock
import XCTest

/// `/stats`, `/metrics` and the admin endpoints after a known sequence of requests.
final class StatsTests: XCTestCase {
    private static let pricedModel = "parrot-priced-model"
    private static let unpricedModel = "parrot-unpriced-model"
    private static let price = ModelPrice(inputPerMTok: 1000, outputPerMTok: 2000)

    private func configure(_ config: inout ProxyConfig) {
        config.pricing[Self.pricedModel] = Self.price
        config.providers["openai"]!.maxRetries = 0
        config.providers["openai"]!.maxConnections = 17
    }

    /// What the known sequence produced, for the expected figures.
    private struct Sequence {
        var misses: [(model: String, prompt: Int, completion: Int, hits: Int)] = []
    }

    /// 3 misses, 7 hits, 1 bypass (no-store), 1 upstream 500: 12 requests, 4 of them misses.
    private func driveKnownSequence(_ proxy: TestProxy) async throws -> Sequence {
        var sequence = Sequence()
        let plan: [(String, String, Int)] = [
            ("first question", Self.pricedModel, 3), ("second question", Self.pricedModel, 2), ("third question", Self.unpricedModel, 2),
        ]
        for (prompt, model, hits) in plan {
            // Realistic, compressible answers of a few kilobytes.
            let miss = try await proxy.chat(prompt, model: model, headers: [("x-mock-size", "4000")])
            XCTAssertEqual(miss.cache, "MISS")
            let usage = try XCTUnwrap(miss.json?["usage"])
            sequence.misses.append((model, try XCTUnwrap(usage["prompt_tokens"]?.intValue),
                                    try XCTUnwrap(usage["completion_tokens"]?.intValue), hits))
        }
        for (prompt, model, hits) in plan {
            for _ in 0..<hits {
                let hit = try await proxy.chat(prompt, model: model)
                XCTAssertEqual(hit.cache, "HIT")
            }
        }
        let bypass = try await proxy.chat("not for the cache", headers: [("cache-control", "no-store")])
        XCTAssertEqual(bypass.cache, "BYPASS")
        let failed = try await proxy.chat("upstream breaks", headers: [("x-mock-status", "500")])
        XCTAssertEqual(failed.status, 500)
        XCTAssertEqual(failed.cache, "MISS", "a miss whose upstream failed is a MISS")
        return sequence
    }

    private func assertLatency(_ latency: JSONValue?, count: Int, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(latency?["count"], .int(count), name, file: file, line: line)
        let p50 = latency?["p50"]?.doubleValue ?? -1
        let p95 = latency?["p95"]?.doubleValue ?? -1
        let p99 = latency?["p99"]?.doubleValue ?? -1
        let max = latency?["max"]?.doubleValue ?? -1
        XCTAssertGreaterThan(p50, 0, name, file: file, line: line)
        XCTAssertLessThanOrEqual(p50, p95, name, file: file, line: line)
        XCTAssertLessThanOrEqual(p95, p99, name, file: file, line: line)
        XCTAssertLessThanOrEqual(p99, max, name, file: file, line: line)
        XCTAssertLessThan(max, 30_000, "\(name): milliseconds", file: file, line: line)
    }

    /// Waits until every effect that lands after a response (store writes, latency records)
    /// is visible, then returns `/stats`.
    private func settledStats(_ proxy: TestProxy, entries: Int, missLatencies: Int, hitLatencies: Int) async throws -> JSONValue {
        var stats: JSONValue = .null
        let settled = try await eventually(5) {
            stats = try await proxy.stats()
            return stats["cache"]?["entries"] == .int(entries)
                && stats["latency_ms"]?["miss"]?["count"] == .int(missLatencies)
                && stats["latency_ms"]?["hit"]?["count"] == .int(hitLatencies)
                && stats["providers"]?["openai"]?["pool"]?["in_flight"] == .int(0)
        }
        XCTAssertTrue(settled, "stats did not settle: \(stats)")
        return stats
    }

    func testStatsReportsAKnownSequenceExactly() async throws {
        try await withProxy(configure: configure) { proxy in
            let sequence = try await driveKnownSequence(proxy)
            let stats = try await settledStats(proxy, entries: 3, missLatencies: 3, hitLatencies: 7)

            XCTAssertEqual(stats["requests"], .int(12))
            let cache = try XCTUnwrap(stats["cache"])
            XCTAssertEqual(cache["hits"], .int(7))
            XCTAssertEqual(cache["misses"], .int(4))
            XCTAssertEqual(cache["bypass"], .int(1))
            XCTAssertEqual(cache["stale"], .int(0))
            XCTAssertEqual(cache["semantic_hits"], .int(0))
            XCTAssertEqual(cache["hit_rate"]?.doubleValue ?? -1, 0.6364, accuracy: 1e-12, "7 / (7 + 4), bypass left out")
            XCTAssertEqual(cache["entries"], .int(3))

            let tokensSaved = sequence.misses.reduce(0) { $0 + $1.hits * ($1.prompt + $1.completion) }
            XCTAssertEqual(cache["tokens_saved"], .int(tokensSaved))
            let cost = sequence.misses.filter { $0.model == Self.pricedModel }.reduce(0.0) {
                $0 + Double($1.hits) * (Double($1.prompt) * Self.price.inputPerMTok + Double($1.completion) * Self.price.outputPerMTok) / 1_000_000
            }
            XCTAssertGreaterThan(cost, 0)
            XCTAssertEqual(cache["cost_saved_usd"]?.doubleValue ?? -1, (cost * 1e6).rounded() / 1e6, accuracy: 1e-9)
            XCTAssertEqual(cache["unpriced_models"], .array([.string(Self.unpricedModel)]))

            let bytes = try XCTUnwrap(cache["bytes"]?.intValue)
            XCTAssertGreaterThan(bytes, 0)
            let ratio = try XCTUnwrap(cache["compression_ratio"]?.doubleValue)
            XCTAssertGreaterThan(ratio, 1, "a few kB of text compresses")
            XCTAssertLessThan(ratio, 100)

            let latency = try XCTUnwrap(stats["latency_ms"])
            assertLatency(latency["hit"], count: 7, "hit")
            assertLatency(latency["miss"], count: 3, "miss")
            assertLatency(latency["upstream"], count: 3, "upstream")
            XCTAssertEqual(latency["overhead"]?["count"], .int(3))
            let overheadMax = latency["overhead"]?["max"]?.doubleValue ?? -1
            XCTAssertGreaterThanOrEqual(overheadMax, 0)
            XCTAssertLessThanOrEqual(overheadMax, latency["miss"]?["max"]?.doubleValue ?? 0)

            let openai = try XCTUnwrap(stats["providers"]?["openai"])
            XCTAssertEqual(openai["requests"], .int(5), "3 misses, 1 bypass, 1 failure went upstream")
            XCTAssertEqual(openai["errors"], .int(1))
            XCTAssertEqual(openai["rate_limited"], .int(0))
            XCTAssertEqual(openai["breaker"], .object([("state", .string("closed")), ("failures", .int(1))]))
            XCTAssertEqual(openai["limits"], .object([
                ("rpm", .null), ("tpm", .null), ("remaining_requests", .null), ("remaining_tokens", .null),
            ]))
            XCTAssertEqual(openai["pool"], .object([("in_flight", .int(0)), ("max_connections", .int(17))]))

            XCTAssertGreaterThan(stats["memory"]?["rss_bytes"]?.intValue ?? 0, 1 << 20)
            XCTAssertGreaterThan(stats["uptime_s"]?.doubleValue ?? 0, 0)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 5)
        }
    }

    func testMetricsAreValidPrometheusTextThatAgreesWithStats() async throws {
        try await withProxy(configure: configure) { proxy in
            _ = try await driveKnownSequence(proxy)
            let stats = try await settledStats(proxy, entries: 3, missLatencies: 3, hitLatencies: 7)
            let reply = try await proxy.send(.GET, "/metrics")
            XCTAssertEqual(reply.status, 200)
            XCTAssertTrue(reply.header("content-type")?.hasPrefix("text/plain") ?? false)
            let samples = try PrometheusExposition(reply.body)
            XCTAssertFalse(samples.samples.isEmpty)
            for name in samples.families.keys {
                XCTAssertTrue(name.hasPrefix("parrot_"), name)
            }
            XCTAssertEqual(samples[#"parrot_requests_total"#], 12)
            XCTAssertEqual(samples[#"parrot_cache_requests_total{outcome="hit"}"#], 7)
            XCTAssertEqual(samples[#"parrot_cache_requests_total{outcome="miss"}"#], 4)
            XCTAssertEqual(samples[#"parrot_cache_requests_total{outcome="bypass"}"#], 1)
            XCTAssertEqual(samples[#"parrot_cache_requests_total{outcome="stale"}"#], 0)
            XCTAssertEqual(samples[#"parrot_cache_requests_total{outcome="semantic"}"#], 0)
            XCTAssertEqual(samples[#"parrot_cache_entries"#], 3)
            XCTAssertEqual(samples[#"parrot_cache_hit_ratio"#] ?? -1, stats["cache"]?["hit_rate"]?.doubleValue ?? 0, accuracy: 1e-9)
            XCTAssertEqual(samples[#"parrot_tokens_saved_total"#].map { Int($0) }, stats["cache"]?["tokens_saved"]?.intValue)
            XCTAssertEqual(samples[#"parrot_cost_saved_usd_total"#] ?? -1, stats["cache"]?["cost_saved_usd"]?.doubleValue ?? 0, accuracy: 1e-5)
            XCTAssertEqual(samples[#"parrot_provider_requests_total{provider="openai"}"#], 5)
            XCTAssertEqual(samples[#"parrot_provider_errors_total{provider="openai"}"#], 1)
            XCTAssertEqual(samples[#"parrot_provider_breaker_state{provider="openai",state="closed"}"#], 1)
            XCTAssertEqual(samples[#"parrot_provider_breaker_state{provider="openai",state="open"}"#], 0)
            XCTAssertGreaterThan(samples[#"parrot_memory_rss_bytes"#] ?? 0, 0)

            // Durations are histograms in seconds, per outcome and per provider.
            XCTAssertEqual(samples.families["parrot_request_duration_seconds"]?.type, "histogram")
            XCTAssertEqual(samples.families["parrot_upstream_duration_seconds"]?.type, "histogram")
            XCTAssertEqual(samples[#"parrot_request_duration_seconds_count{outcome="hit"}"#], 7)
            XCTAssertEqual(samples[#"parrot_request_duration_seconds_count{outcome="miss"}"#], 4)
            XCTAssertEqual(samples[#"parrot_request_duration_seconds_count{outcome="bypass"}"#], 1)
            XCTAssertGreaterThanOrEqual(samples[#"parrot_upstream_duration_seconds_count{provider="openai"}"#] ?? 0, 3, "the misses' fetches")
            let hitSeconds = samples[#"parrot_request_duration_seconds_sum{outcome="hit"}"#] ?? -1
            XCTAssertGreaterThan(hitSeconds, 0)
            XCTAssertLessThan(hitSeconds, 30, "seconds, not milliseconds")
            XCTAssertNil(samples.families["parrot_latency_ms"], "no quantile gauges")
        }
    }

    func testMetricsCountersAreMonotonicAcrossStatsResets() async throws {
        try await withProxy(configure: configure) { proxy in
            // A reset before the first scrape, then one between scrapes with more traffic after
            // it than before: /metrics counts every request of the process's life.
            _ = try await proxy.chat("monotonic 1")
            _ = try await proxy.chat("monotonic 1")
            let reset1 = try await proxy.send(.POST, "/stats/reset").status
            XCTAssertEqual(reset1, 200)
            _ = try await proxy.chat("monotonic 1")
            let first = try PrometheusExposition(try await proxy.send(.GET, "/metrics").body)
            XCTAssertEqual(first[#"parrot_requests_total"#], 3)
            XCTAssertEqual(first[#"parrot_cache_requests_total{outcome="hit"}"#], 2)
            XCTAssertEqual(first[#"parrot_provider_requests_total{provider="openai"}"#], 1)
            let reset2 = try await proxy.send(.POST, "/stats/reset").status
            XCTAssertEqual(reset2, 200)
            for i in 0..<4 { _ = try await proxy.chat("monotonic \(i % 2 + 1)") }
            let second = try PrometheusExposition(try await proxy.send(.GET, "/metrics").body)
            XCTAssertEqual(second[#"parrot_requests_total"#], 7)
            XCTAssertEqual(second[#"parrot_cache_requests_total{outcome="hit"}"#], 5)
            XCTAssertEqual(second[#"parrot_cache_requests_total{outcome="miss"}"#], 2)
            XCTAssertEqual(second[#"parrot_provider_requests_total{provider="openai"}"#], 2)
            XCTAssertEqual(second[#"parrot_request_duration_seconds_count{outcome="hit"}"#], 5)
            XCTAssertGreaterThan(second[#"parrot_tokens_saved_total"#] ?? 0, first[#"parrot_tokens_saved_total"#] ?? 0)
            for (series, value) in first.samples where series.hasSuffix("_total") || series.contains("_total{") {
                XCTAssertGreaterThanOrEqual(second[series] ?? -1, value, series)
            }
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["requests"], .int(4), "/stats itself starts again at a reset")
        }
    }

    func testEveryMetricIsDocumentedAndEveryDocumentedMetricIsExposed() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try ["README.md", "docs/operations.md"].compactMap { name -> String? in
            let path = root.appendingPathComponent(name).path
            return FileManager.default.fileExists(atPath: path) ? try String(contentsOfFile: path, encoding: .utf8) : nil
        }.joined(separator: "\n")
        let regex = try NSRegularExpression(pattern: #"`(parrot_[a-z_]+)`"#)
        let documented = Set(regex.matches(in: docs, range: NSRange(docs.startIndex..., in: docs)).compactMap {
            Range($0.range(at: 1), in: docs).map { String(docs[$0]) }
        }.filter { $0 != "parrot_schema_migrations" })
        try await withProxy(configure: { $0.providers["openai"]!.rpm = 100; $0.providers["openai"]!.tpm = 1000 }) { proxy in
            _ = try await proxy.chat("documented")
            let exposed = Set(try PrometheusExposition(try await proxy.send(.GET, "/metrics").body).families.keys)
            XCTAssertEqual(exposed.subtracting(documented), [], "exposed but not documented")
            XCTAssertEqual(documented.subtracting(exposed), [], "documented but not exposed")
        }
    }

    func testStatsResetZeroesCountersAndHistograms() async throws {
        try await withProxy(configure: configure) { proxy in
            _ = try await driveKnownSequence(proxy)
            _ = try await settledStats(proxy, entries: 3, missLatencies: 3, hitLatencies: 7)
            let reset = try await proxy.send(.POST, "/stats/reset")
            XCTAssertEqual(reset.status, 200)
            XCTAssertEqual(reset.json?["reset"], .bool(true))

            let stats = try await proxy.stats()
            XCTAssertEqual(stats["requests"], .int(0))
            let cache = try XCTUnwrap(stats["cache"])
            for field in ["hits", "misses", "bypass", "stale", "semantic_hits", "tokens_saved"] {
                XCTAssertEqual(cache[field], .int(0), field)
            }
            XCTAssertEqual(cache["hit_rate"]?.doubleValue, 0)
            XCTAssertEqual(cache["cost_saved_usd"]?.doubleValue, 0)
            XCTAssertEqual(cache["unpriced_models"], .array([]))
            XCTAssertEqual(cache["entries"], .int(3), "the store is not the statistics")
            for op in ["hit", "miss", "upstream", "overhead"] {
                let latency = stats["latency_ms"]?[op]
                XCTAssertEqual(latency?["count"], .int(0), op)
                for q in ["p50", "p95", "p99", "max"] { XCTAssertEqual(latency?[q]?.doubleValue, 0, "\(op).\(q)") }
            }
            let openai = stats["providers"]?["openai"]
            XCTAssertEqual(openai?["requests"], .int(0))
            XCTAssertEqual(openai?["errors"], .int(0))
            XCTAssertEqual(openai?["rate_limited"], .int(0))

            // Counting starts again from zero.
            _ = try await proxy.chat("first question", model: Self.pricedModel)
            let again = try await proxy.stats()
            XCTAssertEqual(again["requests"], .int(1))
            XCTAssertEqual(again["cache"]?["hits"], .int(1))
            XCTAssertEqual(again["cache"]?["hit_rate"]?.doubleValue, 1)
        }
    }

    // MARK: admin protection

    func testAdminEndpointsRequireTheConfiguredToken() async throws {
        try await withProxy(secrets: Secrets(adminToken: "t0k")) { proxy in
            _ = try await proxy.chat("protected")
            _ = try await proxy.chat("protected")
            let stored = try await eventually(5) { try await proxy.stats()["cache"]?["entries"] == .int(1) }
            XCTAssertTrue(stored)
            for headers in [[], [("authorization", "Bearer wrong")], [("authorization", "Bearer t0k-but-longer")], [("authorization", "t0k")]] {
                let reset = try await proxy.send(.POST, "/stats/reset", headers: headers)
                XCTAssertEqual(reset.status, 401, "\(headers)")
                XCTAssertEqual(reset.json?["error"]?["type"]?.stringValue, "authentication_error")
                let clear = try await proxy.send(.DELETE, "/cache", headers: headers)
                XCTAssertEqual(clear.status, 401, "\(headers)")
            }
            let unchanged = try await proxy.stats()
            XCTAssertEqual(unchanged["requests"], .int(2), "a refused reset changes nothing")
            XCTAssertEqual(unchanged["cache"]?["entries"], .int(1), "a refused clear changes nothing")
            let stillCached = try await proxy.chat("protected")
            XCTAssertEqual(stillCached.cache, "HIT")

            let reset = try await proxy.send(.POST, "/stats/reset", headers: [("authorization", "Bearer t0k")])
            XCTAssertEqual(reset.status, 200)
            let requests = try await proxy.stats()["requests"]
            XCTAssertEqual(requests, .int(0))
            let clear = try await proxy.send(.DELETE, "/cache", headers: [("authorization", "Bearer t0k")])
            XCTAssertEqual(clear.status, 200)
            XCTAssertEqual(clear.json?["deleted"], .int(1))
            let protectedOutcome = try await proxy.chat("protected").cache
            XCTAssertEqual(protectedOutcome, "MISS")
        }
    }

    func testAdminEndpointsOnANonLoopbackListenerWithoutTokenAreForbidden() async throws {
        // 0.0.0.0 is not loopback (127.0.0.0/8 all is, so 127.0.0.2 would not do), and it is
        // still reachable through 127.0.0.1.
        try await withProxy(configure: { config in
            config.server.host = "0.0.0.0"
            config.server.adminTokenEnv = "PARROT_TEST_ADMIN_TOKEN"
        }) { proxy in
            _ = try await proxy.chat("public")
            for (method, path) in [(HTTPMethod.POST, "/stats/reset"), (.DELETE, "/cache")] {
                let reply = try await proxy.send(method, path, headers: [("authorization", "Bearer anything")])
                XCTAssertEqual(reply.status, 403, path)
                let message = reply.json?["error"]?["message"]?.stringValue ?? ""
                XCTAssertTrue(message.contains("server.admin_token_env"), message)
                XCTAssertTrue(message.contains("PARROT_TEST_ADMIN_TOKEN"), message)
            }
            let requests = try await proxy.stats()["requests"]
            XCTAssertEqual(requests, .int(1))
            let publicOutcome = try await proxy.chat("public").cache
            XCTAssertEqual(publicOutcome, "HIT")
        }
        try await withProxy(configure: { $0.server.host = "0.0.0.0" }) { proxy in
            let reply = try await proxy.send(.POST, "/stats/reset")
            XCTAssertEqual(reply.status, 403)
            let message = reply.json?["error"]?["message"]?.stringValue ?? ""
            XCTAssertTrue(message.contains("server.admin_token_env"), message)
        }
        try await withProxy(secrets: Secrets(adminToken: "t0k"), configure: { $0.server.host = "0.0.0.0" }) { proxy in
            let denied = try await proxy.send(.POST, "/stats/reset")
            XCTAssertEqual(denied.status, 401)
            let allowed = try await proxy.send(.POST, "/stats/reset", headers: [("authorization", "Bearer t0k")])
            XCTAssertEqual(allowed.status, 200)
        }
    }

    func testAdminEndpointsAreOpenOnLoopbackWithoutToken() async throws {
        try await withProxy { proxy in
            let reset = try await proxy.send(.POST, "/stats/reset")
            XCTAssertEqual(reset.status, 200)
            let clear = try await proxy.send(.DELETE, "/cache")
            XCTAssertEqual(clear.status, 200)
        }
    }

    // MARK: secrets

    func testCredentialsNeverAppearInLogsStatsMetricsOrTheStore() async throws {
        let clientKey = "sk-secret-XYZ"
        let injectedKey = "sk-injected-ABC"
        try await withProxy(secrets: Secrets(providerKeys: ["openai": injectedKey]), configure: { config in
            config.providers["openai"]!.maxRetries = 1
        }) { proxy in
            let auth = [("authorization", "Bearer \(clientKey)")]
            let miss = try await proxy.chat("keep my secrets", headers: auth)
            XCTAssertEqual(miss.cache, "MISS")
            let keepMySecretsOutcome = try await proxy.chat("keep my secrets", headers: auth).cache
            XCTAssertEqual(keepMySecretsOutcome, "HIT")
            _ = try await proxy.chat("streamed secrets", stream: true, headers: auth)
            _ = try await proxy.chat("no store", headers: auth + [("cache-control", "no-store")])
            _ = try await proxy.chat("failing", headers: auth + [("x-mock-status", "500")])
            _ = try await proxy.chat("dropped", headers: auth + [("x-mock-close", "1")])
            _ = try await proxy.send(.GET, "/v1/models", headers: auth)
            _ = try await proxy.send(.POST, "/v1/embeddings", body: #"{"model":"text-embedding-3-small","input":"x"}"#, headers: [("api-key", clientKey)])
            _ = try await proxy.send(.POST, "/v1/chat/completions", body: "{not json", headers: auth)
            _ = try await eventually(5) { try await proxy.stats()["cache"]?["entries"] == .int(3) }

            // The injected key really was in play: the provider got it, never the client's.
            let sent = proxy.mock.recordedRequests
            XCTAssertFalse(sent.isEmpty)
            for request in sent {
                XCTAssertEqual(request.header("authorization"), "Bearer \(injectedKey)")
                XCTAssertNil(request.header("api-key"))
            }

            var places: [(String, String)] = proxy.logs.all.map { ("log", $0) }
            XCTAssertFalse(places.isEmpty, "logs were captured")
            places.append(("/stats", try await proxy.send(.GET, "/stats").body))
            places.append(("/metrics", try await proxy.send(.GET, "/metrics").body))
            places.append(("/dashboard", try await proxy.send(.GET, "/dashboard").body))
            for entry in try await proxy.engine.tiers.store.entries(after: nil, limit: 100) {
                let identity = try CachedAnswer(entry: entry).identityBody
                places.append(("store", [entry.key.hex, entry.namespace, entry.endpoint, entry.provider, entry.model,
                                         entry.contentType, String(buffer: identity)].joined(separator: " ")))
            }
            let stored = try await proxy.engine.tiers.store.entries(after: nil, limit: 100)
            XCTAssertEqual(stored.count, 3)
            for (place, text) in places {
                for secret in [clientKey, injectedKey, "secret-XYZ", "injected-ABC"] {
                    XCTAssertFalse(text.contains(secret), "\(secret) leaked into \(place): \(text)")
                }
            }
        }
    }
}
