import AsyncHTTPClient
import Foundation
import NIOCore
@testable import ParrotCore
import ParrotMock
import XCTest

final class ExactCacheTests: XCTestCase {
    func testSecondIdenticalRequestIsServedFromCache() async throws {
        try await withProxy { proxy in
            let first = try await proxy.chat("What is a parrot?")
            XCTAssertEqual(first.status, 200)
            XCTAssertEqual(first.cache, "MISS")
            let second = try await proxy.chat("What is a parrot?")
            XCTAssertEqual(second.status, 200)
            XCTAssertEqual(second.cache, "HIT")
            XCTAssertEqual(second.body, first.body, "a hit is byte-identical to the stored answer")
            XCTAssertNotNil(second.header("age"))
            XCTAssertEqual(second.header("x-parrot-key"), first.header("x-parrot-key"))
            XCTAssertEqual(second.header("x-parrot-key")?.count, 16)
            XCTAssertEqual(second.header("x-parrot-provider"), "openai")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testKeyOrderAndWhitespaceVariantsHit() async throws {
        try await withProxy { proxy in
            _ = try await proxy.send(.POST, "/v1/chat/completions", body: #"{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"x"}]}"#)
            let variant = try await proxy.send(.POST, "/v1/chat/completions", body: """
                {
                  "messages": [ {"content": "x", "role": "user"} ],
                  "temperature": 0.0,  "model": "gpt-4o-mini", "user": "someone", "metadata": {"k": "v"}
                }
                """)
            XCTAssertEqual(variant.cache, "HIT")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testDifferentAPIKeysNeverShareAnswers() async throws {
        try await withProxy { proxy in
            let a = try await proxy.chat("secret plan", headers: [("authorization", "Bearer sk-tenant-a")])
            let b = try await proxy.chat("secret plan", headers: [("authorization", "Bearer sk-tenant-b")])
            XCTAssertEqual(a.cache, "MISS")
            XCTAssertEqual(b.cache, "MISS")
            let secretPlanOutcome = try await proxy.chat("secret plan", headers: [("authorization", "Bearer sk-tenant-a")]).cache
            XCTAssertEqual(secretPlanOutcome, "HIT")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
            // A named namespace subdivides a key's cache; it is not shared across keys by default.
            let named = try await proxy.chat("secret plan", headers: [("authorization", "Bearer sk-tenant-a"), ("x-parrot-namespace", "team")])
            XCTAssertEqual(named.cache, "MISS")
            let other = try await proxy.chat("secret plan", headers: [("authorization", "Bearer sk-tenant-b"), ("x-parrot-namespace", "team")])
            XCTAssertEqual(other.cache, "MISS")
        }
    }

    func testNamedNamespaceIsSharedAcrossKeysWhenConfigured() async throws {
        try await withProxy(configure: { $0.cache.shareAcrossKeys = true }) { proxy in
            _ = try await proxy.chat("team answer", headers: [("authorization", "Bearer sk-a"), ("x-parrot-namespace", "team")])
            let other = try await proxy.chat("team answer", headers: [("authorization", "Bearer sk-b"), ("x-parrot-namespace", "team")])
            XCTAssertEqual(other.cache, "HIT")
        }
    }

    func testStreamIsRelayedStoredAndReplayed() async throws {
        try await withProxy { proxy in
            let first = try await proxy.chat("stream me", stream: true)
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertTrue(first.header("content-type")?.contains("text/event-stream") ?? false)
            XCTAssertTrue(first.body.hasSuffix("data: [DONE]\n\n"))
            let second = try await proxy.chat("stream me", stream: true)
            XCTAssertEqual(second.cache, "HIT")
            XCTAssertEqual(second.body, first.body, "same SSE events, byte for byte")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testPlainRequestIsAnsweredFromStoredStreamAndTheOtherWayRound() async throws {
        try await withProxy { proxy in
            let streamed = try await proxy.chat("convert me", stream: true, extra: #","stream_options":{"include_usage":true}"#)
            XCTAssertEqual(streamed.cache, "MISS")
            let plain = try await proxy.chat("convert me", extra: #","stream_options":{"include_usage":true}"#)
            XCTAssertEqual(plain.cache, "HIT")
            let json = try XCTUnwrap(plain.json)
            XCTAssertEqual(json["object"]?.stringValue, "chat.completion")
            let content = json["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
            XCTAssertTrue(content.contains("convert me"), content)
            XCTAssertEqual(json["choices"]?[0]?["finish_reason"]?.stringValue, "stop")
            XCTAssertNotNil(json["usage"]?["total_tokens"]?.intValue)

            let plainFirst = try await proxy.chat("json first")
            let replayed = try await proxy.chat("json first", stream: true)
            XCTAssertEqual(replayed.cache, "HIT")
            XCTAssertTrue(replayed.body.hasSuffix("data: [DONE]\n\n"))
            let original = plainFirst.json?["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
            let events = replayed.body.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }
            let rebuilt = events.compactMap { try? JSONParser.parse(Array($0.dropFirst(6).utf8)) }
                .compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
            XCTAssertEqual(rebuilt, original)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
        }
    }

    func testResponsesEndpointReplaysOnlyInItsOwnMode() async throws {
        try await withProxy { proxy in
            let body = #"{"model":"gpt-4o-mini","input":"hello"}"#
            let streamBody = #"{"model":"gpt-4o-mini","input":"hello","stream":true}"#
            let firstResponsesOutcome = try await proxy.send(.POST, "/v1/responses", body: body).cache
            XCTAssertEqual(firstResponsesOutcome, "MISS")
            let secondResponsesOutcome = try await proxy.send(.POST, "/v1/responses", body: streamBody).cache
            XCTAssertEqual(secondResponsesOutcome, "MISS")
            let thirdResponsesOutcome = try await proxy.send(.POST, "/v1/responses", body: body).cache
            XCTAssertEqual(thirdResponsesOutcome, "HIT")
            let fourthResponsesOutcome = try await proxy.send(.POST, "/v1/responses", body: streamBody).cache
            XCTAssertEqual(fourthResponsesOutcome, "HIT")
        }
    }

    func testEmbeddingsAndCompletionsAreCached() async throws {
        try await withProxy { proxy in
            let e = #"{"model":"text-embedding-3-small","input":"a sentence"}"#
            let firstEmbeddingsOutcome = try await proxy.send(.POST, "/v1/embeddings", body: e).cache
            XCTAssertEqual(firstEmbeddingsOutcome, "MISS")
            let secondEmbeddingsOutcome = try await proxy.send(.POST, "/v1/embeddings", body: e).cache
            XCTAssertEqual(secondEmbeddingsOutcome, "HIT")
            let c = #"{"model":"gpt-3.5-turbo-instruct","prompt":"Say this"}"#
            let firstCompletionsOutcome = try await proxy.send(.POST, "/v1/completions", body: c).cache
            XCTAssertEqual(firstCompletionsOutcome, "MISS")
            let secondCompletionsOutcome = try await proxy.send(.POST, "/v1/completions", body: c).cache
            XCTAssertEqual(secondCompletionsOutcome, "HIT")
        }
    }

    func testCutStreamIsRelayedButNeverStored() async throws {
        try await withProxy { proxy in
            do {
                let cut = try await proxy.chat("cut me", stream: true, headers: [("x-mock-cut-after", "2")])
                XCTAssertFalse(cut.body.contains("[DONE]"))
            } catch {
                // The client sees the cut as a transfer error: that is the point.
            }
            let again = try await proxy.chat("cut me", stream: true)
            XCTAssertEqual(again.cache, "MISS")
            XCTAssertTrue(again.body.hasSuffix("data: [DONE]\n\n"))
            let cutMeOutcome = try await proxy.chat("cut me", stream: true).cache
            XCTAssertEqual(cutMeOutcome, "HIT")
        }
    }

    func testErrorAnswersAreRelayedButNeverStored() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 0 }) { proxy in
            let failed = try await proxy.chat("fail once", headers: [("x-mock-status", "500")])
            XCTAssertEqual(failed.status, 500)
            XCTAssertNotNil(failed.json?["error"])
            let bad = try await proxy.chat("fail once", headers: [("x-mock-status", "400")])
            XCTAssertEqual(bad.status, 400)
            let invalid = try await proxy.chat("fail once", headers: [("x-mock-invalid-json", "1")])
            XCTAssertEqual(invalid.status, 200)
            let ok = try await proxy.chat("fail once")
            XCTAssertEqual(ok.cache, "MISS")
            XCTAssertEqual(ok.status, 200)
            let failOnceOutcome = try await proxy.chat("fail once").cache
            XCTAssertEqual(failOnceOutcome, "HIT")
        }
    }

    func testCacheControlNoStoreBypassesAndNoCacheRefreshes() async throws {
        try await withProxy { proxy in
            let bypass = try await proxy.chat("controls", headers: [("cache-control", "no-store")])
            XCTAssertEqual(bypass.cache, "BYPASS")
            let controlsOutcome = try await proxy.chat("controls").cache
            XCTAssertEqual(controlsOutcome, "MISS", "no-store stored nothing")
            let cached = try await proxy.chat("controls")
            XCTAssertEqual(cached.cache, "HIT")
            let refreshed = try await proxy.chat("controls", headers: [("cache-control", "no-cache")])
            XCTAssertEqual(refreshed.cache, "MISS")
            XCTAssertNotEqual(refreshed.json?["id"], cached.json?["id"], "a refresh calls upstream")
            let after = try await proxy.chat("controls")
            XCTAssertEqual(after.cache, "HIT")
            XCTAssertEqual(after.json?["id"], refreshed.json?["id"], "the refresh replaced the entry")
        }
    }

    func testMaxAgeAndTTLControlFreshness() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock) { proxy in
            _ = try await proxy.chat("short lived", headers: [("x-parrot-ttl", "60")])
            let fresh = try await proxy.chat("short lived")
            XCTAssertEqual(fresh.cache, "HIT")
            clock.advance(by: 59)
            let stillFresh = try await proxy.chat("short lived")
            XCTAssertEqual(stillFresh.cache, "HIT")
            XCTAssertEqual(stillFresh.header("age"), "59")
            clock.advance(by: 2)
            let expired = try await proxy.chat("short lived")
            XCTAssertEqual(expired.cache, "MISS", "expired after its X-Parrot-TTL")

            _ = try await proxy.chat("aged")
            clock.advance(by: 30)
            let tooOld = try await proxy.chat("aged", headers: [("cache-control", "max-age=29")])
            XCTAssertEqual(tooOld.cache, "MISS")
            let oldEnough = try await proxy.chat("aged", headers: [("cache-control", "max-age=60")])
            XCTAssertEqual(oldEnough.cache, "HIT")
        }
    }

    func testConfiguredTTLExpiresEntries() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: { $0.cache.ttlSeconds = 600 }) { proxy in
            _ = try await proxy.chat("ttl")
            let fresh = try await proxy.chat("ttl")
            XCTAssertEqual(fresh.cache, "HIT")
            clock.advance(by: 601)
            let expired = try await proxy.chat("ttl")
            XCTAssertEqual(expired.cache, "MISS")
        }
    }

    func testConcurrentIdenticalMissesMakeOneUpstreamCall() async throws {
        try await withProxy { proxy in
            let replies = try await withThrowingTaskGroup(of: TestProxy.Reply.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await proxy.chat("coalesce me", headers: [("x-mock-delay-ms", "300")]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(replies.count, 50)
            XCTAssertEqual(Set(replies.map(\.status)), [200])
            XCTAssertEqual(Set(replies.map(\.body)).count, 1, "everyone got the same answer")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testCoalescedWaitersOfAStreamGetTheWholeStream() async throws {
        try await withProxy { proxy in
            let replies = try await withThrowingTaskGroup(of: TestProxy.Reply.self) { group in
                for i in 0..<10 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(i * 20))
                        return try await proxy.chat("stream together", stream: true, headers: [("x-mock-chunk-delay-ms", "40")])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(Set(replies.map(\.body)).count, 1)
            XCTAssertTrue(replies[0].body.hasSuffix("data: [DONE]\n\n"))
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    /// Issue #19: one of two coalesced streaming clients closes its socket before the first
    /// byte; the other still gets the whole stream, the provider is called once, and the answer
    /// is stored. Fails if the leaver's detach (by its cancel handler, its failure branch or its
    /// body's `defer`, possibly more than once) cancelled the fetch the other is attached to.
    func testAStreamingClientLeavingBeforeTheFirstByteLeavesTheOtherTheWholeStoredAnswer() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            // The head comes late (time to join and to leave before it), the chunks slowly (the
            // stream still runs when Parrot finds the leaver's socket closed).
            let controls = [("x-mock-delay-ms", "1500"), ("x-mock-chunk-delay-ms", "40"), ("x-mock-chunks", "12")]
            let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"one leaves"}],"stream":true}"#
            let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                + controls.map { "\($0.0): \($0.1)\r\n" }.joined() + "content-length: \(body.utf8.count)\r\n\r\n\(body)"
            let leaver = try await onThread { () -> HeldConnection in
                let connection = try RawHTTPConnection(port: port)
                connection.send(request)
                return HeldConnection(connection)
            }
            let leading = try await eventually(5) { proxy.mock.requestCount(path: "/v1/chat/completions") == 1 }
            XCTAssertTrue(leading, "the first client leads the upstream call")
            let ended = Flag()
            let staying = Task {
                defer { ended.value.store(true, ordering: .relaxed) }
                return try await proxy.chat("one leaves", stream: true, headers: controls)
            }
            let joined = try await eventually(5) { proxy.engine.coalescer.attachedClients == 2 }
            XCTAssertTrue(joined, "the second client joins the call in flight")
            leaver.connection.close()

            let answered = try await eventually(20) { ended.value.load(ordering: .relaxed) }
            guard answered else {
                staying.cancel()
                return XCTFail("the staying client's answer never ended")
            }
            let reply = try await staying.value
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(reply.cache, "MISS")
            XCTAssertTrue(reply.body.hasSuffix("data: [DONE]\n\n"), "the stream was cut: \(reply.body.suffix(200))")
            let released = try await eventually(5) { proxy.engine.coalescer.count == 0 }
            XCTAssertTrue(released, "the slot of the finished answer is freed")
            let again = try await proxy.chat("one leaves", stream: true, headers: controls)
            XCTAssertEqual(again.cache, "HIT", "the answer was stored")
            XCTAssertEqual(again.body, reply.body)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testFailedLeaderGivesWaitersTheErrorAndStoresNothing() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 0 }) { proxy in
            let replies = try await withThrowingTaskGroup(of: TestProxy.Reply.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await proxy.chat("doomed", headers: [("x-mock-status", "503"), ("x-mock-delay-ms", "200")]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(Set(replies.map(\.status)), [503])
            let doomedOutcome = try await proxy.chat("doomed").cache
            XCTAssertEqual(doomedOutcome, "MISS")
        }
    }

    func testCacheSurvivesARestart() async throws {
        let mock = try await MockUpstream.start()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-restart-\(UUID().uuidString)").path
        let first = try await TestProxy.start(mock: mock, directory: dir)
        let miss = try await first.chat("remember me")
        XCTAssertEqual(miss.cache, "MISS")
        await first.stop(keepMock: true)
        let second = try await TestProxy.start(mock: mock, directory: dir)
        let hit = try await second.chat("remember me")
        XCTAssertEqual(hit.cache, "HIT")
        XCTAssertEqual(hit.body, miss.body)
        await second.stop()
    }

    func testStoreTierServesWhenMemoryTierIsOff() async throws {
        try await withProxy(configure: { $0.cache.memoryBytes = 0 }) { proxy in
            let miss = try await proxy.chat("from disk")
            let hit = try await proxy.chat("from disk")
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(hit.body, miss.body)
        }
    }

    func testGzipClientsGetTheStoredCompressedBytes() async throws {
        try await withProxy { proxy in
            let miss = try await proxy.chat("zip it")
            var request = HTTPClientRequest(url: proxy.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "accept-encoding", value: "gzip")
            request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"zip it"}]}"#))
            // A client that does not inflate, to see the bytes on the wire.
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(decompression: .disabled))
            let response: HTTPClientResponse
            let compressed: ByteBuffer
            do {
                response = try await client.execute(request, timeout: .seconds(10))
                compressed = try await response.body.collect(upTo: 1 << 20)
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
            XCTAssertEqual(response.headers.first(name: "content-encoding"), "gzip")
            XCTAssertEqual(response.headers.first(name: "x-parrot-cache"), "HIT")
            XCTAssertEqual(compressed.getBytes(at: compressed.readerIndex, length: 2), [0x1F, 0x8B])
            XCTAssertLessThan(compressed.readableBytes, miss.bytes.count + 64)
        }
    }

    func testEvictionKeepsTheStoreUnderMaxBytes() async throws {
        let store = try SQLiteStore(path: FileManager.default.temporaryDirectory.appendingPathComponent("evict-\(UUID().uuidString).sqlite").path)
        let now = Date().timeIntervalSince1970
        for i in 0..<40 {
            let body = ByteBuffer(bytes: (0..<1000).map { _ in UInt8.random(in: 0...255) })
            try await store.put(CacheEntry(key: CacheKey(digest: Array(repeating: UInt8(i), count: 32)), namespace: "default",
                                           endpoint: "/v1/chat/completions", provider: "openai", model: "m", mode: .json, status: 200,
                                           contentType: "application/json", body: body, rawBytes: 1000, createdAt: now,
                                           expiresAt: now + 3600, lastHitAt: now + Double(i)))
        }
        let removed = try await store.evict(maxBytes: 10_000, now: now, staleSeconds: 0)
        let summary = try await store.summary()
        XCTAssertLessThanOrEqual(summary.bytes, 10_000)
        XCTAssertEqual(removed, 30)
        let firstEntry = try await store.get(CacheKey(digest: Array(repeating: 39, count: 32)))
        XCTAssertNotNil(firstEntry, "most recently used stays")
        let secondEntry = try await store.get(CacheKey(digest: Array(repeating: 0, count: 32)))
        XCTAssertNil(secondEntry, "least recently used goes")
        let integrity = try await store.integrityCheck()
        XCTAssertEqual(integrity, "ok")
    }

    func testExportClearImportRoundTripsEveryEntry() async throws {
        try await withProxy { proxy in
            let miss = try await proxy.chat("portable")
            _ = try await proxy.chat("portable stream", stream: true)
            // The store write follows the reply to the client; wait for it to land.
            let stored = try await eventually { try await proxy.engine.tiers.store.summary().entries == 2 }
            XCTAssertTrue(stored)
            var exported = ""
            let count = try await CacheTransfer.export(from: proxy.engine.tiers.store, write: { exported += $0 })
            XCTAssertEqual(count, 2)
            let cleared = try await proxy.send(.DELETE, "/cache")
            XCTAssertEqual(cleared.status, 200)
            let portableOutcome = try await proxy.chat("portable", headers: [("x-mock-delay-ms", "1")]).cache
            XCTAssertEqual(portableOutcome, "MISS")
            _ = try await proxy.send(.DELETE, "/cache")
            let imported = try await CacheTransfer.import(into: proxy.engine.tiers.store, lines: exported.split(separator: "\n"))
            XCTAssertEqual(imported, 2)
            var reexported = ""
            _ = try await CacheTransfer.export(from: proxy.engine.tiers.store, write: { reexported += $0 })
            XCTAssertEqual(reexported, exported, "bit for bit")
            let hit = try await proxy.chat("portable")
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(hit.body, miss.body)
        }
    }

    func testDeleteCacheByNamespaceLeavesOthers() async throws {
        try await withProxy { proxy in
            _ = try await proxy.chat("ns", headers: [("authorization", "Bearer sk-1")])
            _ = try await proxy.chat("ns")
            let stored = try await eventually { try await proxy.engine.tiers.store.summary().entries == 2 }
            XCTAssertTrue(stored)
            let entries = try await proxy.engine.tiers.store.entries(after: nil, limit: 10)
            let keyed = try XCTUnwrap(entries.first { $0.namespace != "default" })
            let reply = try await proxy.send(.DELETE, "/cache?namespace=\(keyed.namespace)")
            XCTAssertEqual(reply.json?["deleted"]?.intValue, 1)
            let firstNsOutcome = try await proxy.chat("ns").cache
            XCTAssertEqual(firstNsOutcome, "HIT")
            let secondNsOutcome = try await proxy.chat("ns", headers: [("authorization", "Bearer sk-1")]).cache
            XCTAssertEqual(secondNsOutcome, "MISS")
        }
    }

    func testStoreFailureFallsBackToBypass() async throws {
        try await withProxy(configure: { $0.cache.memoryBytes = 0 }) { proxy in
            _ = try await proxy.chat("before")
            try await proxy.engine.tiers.store.close()
            let reply = try await proxy.chat("after the store broke")
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(reply.cache, "BYPASS")
            let ready = try await proxy.send(.GET, "/readyz")
            XCTAssertEqual(ready.status, 200)
            XCTAssertEqual(ready.json?["store"]?.stringValue, "unreachable")
        }
    }
}
