import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore
import ParrotMock
import XCTest

/// The provider guard end to end: a real Parrot in front of a real mock upstream that is told
/// to fail, rate-limit or cut a stream; the mock's counters say what reached the provider.
final class GuardedUpstreamTests: XCTestCase {
    private static let chatPath = "/v1/chat/completions"

    /// A breaker that opens after `threshold` consecutive failures, with no retries so each
    /// request is exactly one upstream call.
    private func breaker(threshold: Int = 3, openSeconds: Int = 30) -> (inout ProxyConfig) -> Void {
        { config in
            config.providers["openai"]!.maxRetries = 0
            config.providers["openai"]!.breaker.failureThreshold = threshold
            config.providers["openai"]!.breaker.openSeconds = openSeconds
        }
    }

    /// Fails `count` distinct requests with 500 so the breaker opens; the prompts never match
    /// the ones a test caches.
    private func openBreaker(_ proxy: TestProxy, failures count: Int = 3) async throws {
        for i in 0..<count {
            let reply = try await proxy.chat("failing request \(i)", headers: [("x-mock-status", "500")])
            XCTAssertEqual(reply.status, 500, "the provider's error is relayed while the breaker is closed")
        }
        let state = try await proxy.stats()["providers"]?["openai"]?["breaker"]?["state"]?.stringValue
        XCTAssertEqual(state, "open")
    }

    private func storedEntries(_ proxy: TestProxy) async throws -> [CacheEntry] {
        try await proxy.engine.tiers.store.entries(after: nil, limit: 100)
    }

    // MARK: circuit breaker

    func testUpstreamFailuresOpenTheBreakerAndLaterRequestsFailFast() async throws {
        try await withProxy(configure: breaker(threshold: 3, openSeconds: 30)) { proxy in
            for i in 0..<2 {
                let reply = try await proxy.chat("boom \(i)", headers: [("x-mock-status", "500")])
                XCTAssertEqual(reply.status, 500)
            }
            let closed = try await proxy.stats()["providers"]?["openai"]?["breaker"]
            XCTAssertEqual(closed?["state"]?.stringValue, "closed")
            XCTAssertEqual(closed?["failures"]?.intValue, 2)
            let third = try await proxy.chat("boom 2", headers: [("x-mock-status", "500")])
            XCTAssertEqual(third.status, 500)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3)

            let open = try await proxy.stats()["providers"]?["openai"]?["breaker"]
            XCTAssertEqual(open?["state"]?.stringValue, "open")
            XCTAssertEqual(open?["failures"]?.intValue, 3)

            for prompt in ["healthy question", "another one"] {
                let reply = try await proxy.chat(prompt)
                XCTAssertEqual(reply.status, 503)
                let retryAfter = try XCTUnwrap(reply.header("retry-after").flatMap(Int.init), "503 carries Retry-After")
                XCTAssertTrue((1...30).contains(retryAfter), "\(retryAfter)")
                XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "provider_unavailable")
                XCTAssertEqual(reply.json?["error"]?["type"]?.stringValue, "upstream_error")
                XCTAssertEqual(reply.json?["error"]?["param"], .null)
                XCTAssertEqual(reply.cache, "MISS", "counted as a miss, labelled as one")
            }
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3, "an open breaker calls nobody")
        }
    }

    func testClientErrorsNeverOpenTheBreaker() async throws {
        try await withProxy(configure: breaker(threshold: 2)) { proxy in
            for i in 0..<5 {
                let reply = try await proxy.chat("bad \(i)", headers: [("x-mock-status", "400")])
                XCTAssertEqual(reply.status, 400)
            }
            let state = try await proxy.stats()["providers"]?["openai"]?["breaker"]
            XCTAssertEqual(state?["state"]?.stringValue, "closed")
            XCTAssertEqual(state?["failures"]?.intValue, 0)
            let ok = try await proxy.chat("fine")
            XCTAssertEqual(ok.status, 200)
        }
    }

    func testStaleEntryIsServedWhileTheBreakerIsOpen() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: breaker(threshold: 3)) { proxy in
            let fresh = try await proxy.chat("keep me around", headers: [("x-parrot-ttl", "1")])
            XCTAssertEqual(fresh.cache, "MISS")
            clock.advance(by: 2)  // past its TTL, well within stale_if_error_seconds
            try await openBreaker(proxy)
            let calls = proxy.mock.requestCount(path: Self.chatPath)

            let stale = try await proxy.chat("keep me around")
            XCTAssertEqual(stale.status, 200)
            XCTAssertEqual(stale.cache, "STALE")
            XCTAssertEqual(stale.body, fresh.body, "the stored answer, as it was")
            XCTAssertEqual(stale.header("x-parrot-provider"), "openai")
            XCTAssertNotNil(stale.header("age"))
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), calls, "served without calling the provider")
            let unknown = try await proxy.chat("never asked before")
            XCTAssertEqual(unknown.status, 503, "no stale entry: 503")
            let counted = try await proxy.stats()["cache"]?["stale"]?.intValue
            XCTAssertEqual(counted, 1)
        }
    }

    func testStaleEntryIsServedWhenRetriesAreExhausted() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: { config in
            config.providers["openai"]!.maxRetries = 1
        }) { proxy in
            let fresh = try await proxy.chat("fallback to stale", headers: [("x-parrot-ttl", "1")])
            clock.advance(by: 2)  // past its TTL
            let reply = try await proxy.chat("fallback to stale", headers: [("x-mock-status", "503")])
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(reply.cache, "STALE")
            XCTAssertEqual(reply.body, fresh.body)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3, "one miss, then one call and one retry")
        }
    }

    func testFallbackProviderAnswersWhilePrimaryIsOpenUnderItsOwnKey() async throws {
        let backup = try await MockUpstream.start()
        do {
            try await withProxy(configure: { config in
                self.breaker(threshold: 3, openSeconds: 2)(&config)
                config.addBackupProvider(at: backup.baseURL)
            }) { proxy in
                // The primary fails three times; each time its retries are exhausted the backup
                // answers instead, and the third failure opens the primary's breaker.
                proxy.mock.enqueue(.status(500), times: 3)
                for i in 0..<3 {
                    let reply = try await proxy.chat("primary fails \(i)")
                    XCTAssertEqual(reply.status, 200)
                    XCTAssertEqual(reply.header("x-parrot-provider"), "backup")
                }
                XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3)
                XCTAssertEqual(backup.requestCount(path: Self.chatPath), 3)
                let state = try await proxy.stats()["providers"]?["openai"]?["breaker"]?["state"]?.stringValue
                XCTAssertEqual(state, "open")

                let reply = try await proxy.chat("ask the backup")
                XCTAssertEqual(reply.status, 200)
                XCTAssertEqual(reply.header("x-parrot-provider"), "backup")
                XCTAssertEqual(reply.cache, "MISS")
                XCTAssertEqual(backup.requestCount(path: Self.chatPath), 4)
                XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3, "the open primary was not called")

                // Stored under the backup's keys only.
                let stored = try await eventually(5) { try await self.storedEntries(proxy).count == 4 }
                XCTAssertTrue(stored)
                let entries = try await storedEntries(proxy)
                XCTAssertEqual(Set(entries.map(\.provider)), ["backup"])
                XCTAssertTrue(entries.contains { $0.key.prefix == reply.header("x-parrot-key") })

                // While the primary is still open, the backup's stored answer serves the repeat.
                let repeated = try await proxy.chat("ask the backup")
                XCTAssertEqual(repeated.header("x-parrot-provider"), "backup")
                XCTAssertEqual(repeated.cache, "HIT")
                XCTAssertEqual(repeated.body, reply.body)
                XCTAssertEqual(backup.requestCount(path: Self.chatPath), 4)

                // Once the primary is back, the same request is the primary's own MISS.
                let recovered = try await eventually(6) {
                    let again = try await proxy.chat("ask the backup")
                    return again.header("x-parrot-provider") == "openai"
                }
                XCTAssertTrue(recovered)
                XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 4)
                let hit = try await proxy.chat("ask the backup")
                XCTAssertEqual(hit.cache, "HIT")
                XCTAssertEqual(hit.header("x-parrot-provider"), "openai")
                XCTAssertNotEqual(hit.header("x-parrot-key"), reply.header("x-parrot-key"))
                XCTAssertEqual(backup.requestCount(path: Self.chatPath), 4, "no more backup calls: served from its stored answer while open")
            }
        } catch {
            await backup.stop()
            throw error
        }
        await backup.stop()
    }

    func testHalfOpenProbeSuccessClosesTheBreaker() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: breaker(threshold: 2, openSeconds: 30)) { proxy in
            try await openBreaker(proxy, failures: 2)
            let failFast = try await proxy.chat("probe")
            XCTAssertEqual(failFast.status, 503)
            XCTAssertEqual(failFast.header("retry-after"), "30")
            clock.advance(by: 29)
            let stillOpen = try await proxy.chat("probe")
            XCTAssertEqual(stillOpen.status, 503, "open for open_seconds")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 2)

            clock.advance(by: 1.5)
            let probe = try await proxy.chat("probe")
            XCTAssertEqual(probe.status, 200, "half-open: the probe goes through")
            XCTAssertEqual(probe.cache, "MISS")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3, "exactly one probe went upstream")
            let state = try await proxy.stats()["providers"]?["openai"]?["breaker"]
            XCTAssertEqual(state?["state"]?.stringValue, "closed")
            XCTAssertEqual(state?["failures"]?.intValue, 0)
            let next = try await proxy.chat("closed again")
            XCTAssertEqual(next.status, 200)
        }
    }

    func testHalfOpenProbeFailureReopensTheBreaker() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: breaker(threshold: 2, openSeconds: 30)) { proxy in
            try await openBreaker(proxy, failures: 2)
            clock.advance(by: 31)
            let probe = try await proxy.chat("failing probe", headers: [("x-mock-status", "500")])
            XCTAssertEqual(probe.status, 500, "the probe was admitted and failed")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3)
            let state = try await proxy.stats()["providers"]?["openai"]?["breaker"]?["state"]?.stringValue
            XCTAssertEqual(state, "open")
            let reply = try await proxy.chat("healthy")
            XCTAssertEqual(reply.status, 503)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3)
        }
    }

    // MARK: retries

    func testRateLimitedAnswerIsRetriedAfterItsRetryAfter() async throws {
        try await withProxy { proxy in
            proxy.mock.enqueue(.status(429, retryAfter: 1))
            let started = ContinuousClock.now
            let reply = try await proxy.chat("patience")
            let elapsed = ContinuousClock.now - started
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(reply.cache, "MISS")
            XCTAssertGreaterThanOrEqual(elapsed, .seconds(1), "waited the provider's Retry-After")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 2)
            let provider = try await proxy.stats()["providers"]?["openai"]
            XCTAssertEqual(provider?["requests"]?.intValue, 2)
            XCTAssertEqual(provider?["errors"]?.intValue, 1)
            XCTAssertEqual(provider?["breaker"]?["failures"]?.intValue, 0, "a 429 is not a breaker failure")
        }
    }

    func testRetryAfterLongerThanParrotWaitsIsRelayedNotRetriedEarly() async throws {
        try await withProxy { proxy in
            proxy.mock.enqueue(.status(429, retryAfter: 120))
            let reply = try await proxy.chat("come back later")
            XCTAssertEqual(reply.status, 429)
            XCTAssertEqual(reply.header("retry-after"), "120")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 1, "never retried before the provider said")
        }
    }

    func testServerErrorsAreRetriedUpToMaxRetriesThenRelayed() async throws {
        try await withProxy(configure: { config in
            config.providers["openai"]!.maxRetries = 2
            config.providers["openai"]!.breaker.failureThreshold = 10
        }) { proxy in
            let reply = try await proxy.chat("always broken", headers: [("x-mock-status", "502")])
            XCTAssertEqual(reply.status, 502)
            XCTAssertTrue(reply.body.contains("mock upstream status 502"), "relayed as it came: \(reply.body)")
            XCTAssertEqual(reply.cache, "MISS")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 3, "first call plus two retries")
            let provider = try await proxy.stats()["providers"]?["openai"]
            XCTAssertEqual(provider?["requests"]?.intValue, 3)
            XCTAssertEqual(provider?["errors"]?.intValue, 3)

            // A transient failure is invisible to the client.
            proxy.mock.enqueue(.status(503), times: 2)
            let healed = try await proxy.chat("flaky")
            XCTAssertEqual(healed.status, 200)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 6)
            let flakyOutcome = try await proxy.chat("flaky").cache
            XCTAssertEqual(flakyOutcome, "HIT")
        }
    }

    func testConnectionFailuresAreRetried() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 2 }) { proxy in
            proxy.mock.enqueue(.closeWithoutResponse)
            let reply = try await proxy.chat("dropped once")
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 2)
        }
    }

    func testClientErrorsAreNotRetried() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 3 }) { proxy in
            for status in [400, 401, 404, 422] {
                proxy.mock.resetCounters()
                let reply = try await proxy.chat("wrong \(status)", headers: [("x-mock-status", "\(status)")])
                XCTAssertEqual(reply.status, status)
                XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 1, "\(status) is the caller's problem: no retry")
            }
        }
    }

    func testNoRetryAfterTheFirstStreamedByte() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 3 }) { proxy in
            var sawCut = false
            do {
                let cut = try await proxy.chat("cut midway", stream: true, headers: [("x-mock-cut-after", "2")])
                XCTAssertEqual(cut.status, 200)
                XCTAssertFalse(cut.body.contains("[DONE]"))
                sawCut = true
            } catch {
                sawCut = true  // the client sees the cut as a transfer error
            }
            XCTAssertTrue(sawCut)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 1, "a relayed stream is never retried")
            let cutFailures = try await proxy.stats()["providers"]?["openai"]?["breaker"]?["failures"]?.intValue
            XCTAssertEqual(cutFailures, 1, "a body that broke counts against the breaker")
            let again = try await proxy.chat("cut midway", stream: true)
            XCTAssertEqual(again.cache, "MISS", "nothing was stored")
            XCTAssertTrue(again.body.hasSuffix("data: [DONE]\n\n"))
            let entries = try await eventually(5) { try await self.storedEntries(proxy).count == 1 }
            XCTAssertTrue(entries, "only the complete answer is stored")
            let failures = try await proxy.stats()["providers"]?["openai"]?["breaker"]?["failures"]?.intValue
            XCTAssertEqual(failures, 0, "the complete answer after the cut reset the run of failures")
        }
    }

    // MARK: rate limits

    func testRPMLetsTheBurstThroughThenQueuesThen429s() async throws {
        try await withProxy(configure: { config in
            config.providers["openai"]!.rpm = 60
            config.providers["openai"]!.maxQueueWaitMs = 1000
            config.providers["openai"]!.maxRetries = 0
        }) { proxy in
            let burstStarted = ContinuousClock.now
            let burst = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<60 { group.addTask { try await proxy.chat("burst \(i)").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(burst, Array(repeating: 200, count: 60), "the whole burst passes")

            let burstTook = ContinuousClock.now - burstStarted
            let extra = try await withThrowingTaskGroup(of: (TestProxy.Reply, Duration).self) { group in
                for i in 0..<3 {
                    group.addTask {
                        let started = ContinuousClock.now
                        let reply = try await proxy.chat("over the limit \(i)")
                        return (reply, ContinuousClock.now - started)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let passed = extra.filter { $0.0.status == 200 }
            let refused = extra.filter { $0.0.status == 429 }
            XCTAssertEqual(passed.count + refused.count, 3, "\(extra.map { $0.0.status })")
            XCTAssertGreaterThanOrEqual(refused.count, 1, "past max_queue_wait_ms: 429")
            XCTAssertGreaterThanOrEqual(passed.count, 1, "one more fits within the queue wait")
            if burstTook < .milliseconds(900) {
                // The bucket was empty: whoever passed had to queue for the refill.
                XCTAssertEqual(refused.count, 2)
                let queued = passed.map(\.1).max() ?? .zero
                XCTAssertGreaterThanOrEqual(queued, .seconds(1) - burstTook - .milliseconds(50), "queued, not refused")
            }
            for (reply, _) in refused {
                let retryAfter = try XCTUnwrap(reply.header("retry-after").flatMap(Int.init))
                XCTAssertGreaterThanOrEqual(retryAfter, 1)
                XCTAssertEqual(reply.json?["error"]?["type"]?.stringValue, "rate_limit_error")
                XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "rate_limit_exceeded")
            }
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 60 + passed.count, "refused requests never reach the provider")
            let provider = try await proxy.stats()["providers"]?["openai"]
            XCTAssertEqual(provider?["rate_limited"]?.intValue, refused.count)
            XCTAssertEqual(provider?["limits"]?["rpm"]?.intValue, 60)
            XCTAssertEqual(provider?["limits"]?["tpm"], .null)
            XCTAssertEqual(provider?["limits"]?["remaining_tokens"], .null)
        }
    }

    func testTPMIsCorrectedFromTheAnswersUsage() async throws {
        try await withProxy(configure: { config in
            config.providers["openai"]!.tpm = 120
            config.providers["openai"]!.maxQueueWaitMs = 0
        }) { proxy in
            // The estimate counts max_tokens (100); the mock's answer uses far fewer.
            let started = ContinuousClock.now
            let reply = try await proxy.chat("hi", extra: #","max_tokens":100"#)
            XCTAssertEqual(reply.status, 200)
            let used = try XCTUnwrap(reply.json?["usage"]?["total_tokens"]?.intValue)
            XCTAssertLessThan(used, 60)
            var remaining = -1
            let corrected = try await eventually(3) {
                remaining = try await proxy.stats()["providers"]?["openai"]?["limits"]?["remaining_tokens"]?.intValue ?? -1
                return remaining >= 120 - used - 1
            }
            let elapsed = Double((ContinuousClock.now - started).components.seconds) + 1
            XCTAssertTrue(corrected, "remaining_tokens \(remaining) after using \(used)")
            XCTAssertLessThanOrEqual(remaining, min(120, 120 - used + Int(2 * elapsed) + 1), "refills at 2 tokens/s")
            let limits = try await proxy.stats()["providers"]?["openai"]?["limits"]
            XCTAssertEqual(limits?["tpm"]?.intValue, 120)
            XCTAssertEqual(limits?["rpm"], .null)
            XCTAssertEqual(limits?["remaining_requests"], .null)
        }
    }

    func testAnOpenBreakerKeepsServingStaleWithoutSpendingTheRateLimit() async throws {
        try await withProxy(configure: { config in
            // 3 per minute: nothing refills during the test.
            config.providers["openai"]!.rpm = 3
            config.providers["openai"]!.maxQueueWaitMs = 0
            config.providers["openai"]!.maxRetries = 0
            config.providers["openai"]!.breaker.failureThreshold = 1
        }) { proxy in
            let fresh = try await proxy.chat("old but useful", headers: [("x-parrot-ttl", "1")])
            let expired = try await eventually(5) {
                guard let expiresAt = try await self.storedEntries(proxy).first?.expiresAt else { return false }
                return Date().timeIntervalSince1970 > expiresAt + 0.05
            }
            XCTAssertTrue(expired)
            let failed = try await proxy.chat("breaks it", headers: [("x-mock-status", "500")])
            XCTAssertEqual(failed.status, 500)
            let limits = try await proxy.stats()["providers"]?["openai"]?["limits"]?["remaining_requests"]
            XCTAssertEqual(limits, .int(1))
            for _ in 0..<5 {
                let stale = try await proxy.chat("old but useful")
                XCTAssertEqual(stale.cache, "STALE", "the breaker's answer, not a 429 from a drained bucket")
                XCTAssertEqual(stale.body, fresh.body)
                let unknown = try await proxy.chat("nothing stored")
                XCTAssertEqual(unknown.status, 503)
            }
            let after = try await proxy.stats()["providers"]?["openai"]
            XCTAssertEqual(after?["limits"]?["remaining_requests"], .int(1), "fail-fast requests spent nothing")
            XCTAssertEqual(after?["rate_limited"], .int(0))
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 2)
        }
    }

    func testCacheHitsAreNotCountedAgainstLimits() async throws {
        try await withProxy(configure: { config in
            // 2 per minute: one token back takes 30 s, far longer than this test.
            config.providers["openai"]!.rpm = 2
            config.providers["openai"]!.maxQueueWaitMs = 0
        }) { proxy in
            let miss = try await proxy.chat("remember")
            XCTAssertEqual(miss.cache, "MISS")
            let before = try await proxy.stats()["providers"]?["openai"]?["limits"]?["remaining_requests"]?.intValue
            XCTAssertEqual(before, 1)
            for _ in 0..<10 {
                let hit = try await proxy.chat("remember")
                XCTAssertEqual(hit.status, 200)
                XCTAssertEqual(hit.cache, "HIT")
            }
            let after = try await proxy.stats()["providers"]?["openai"]?["limits"]?["remaining_requests"]?.intValue
            XCTAssertEqual(after, 1, "hits never touch the bucket")
            let second = try await proxy.chat("a second question")
            XCTAssertEqual(second.status, 200)
            let third = try await proxy.chat("a third question")
            XCTAssertEqual(third.status, 429, "the bucket itself still works")
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chatPath), 2)
        }
    }
}
