import Foundation
import NIOCore
@testable import ParrotCore
import ParrotMock
import XCTest

/// `/v1/embeddings` cached per input, through real sockets: a real Parrot in front of the mock
/// upstream, and the official Python SDK where its defaults (base64) matter.
final class EmbeddingsCacheTests: XCTestCase {
    static let model = "text-embedding-3-small"

    private func embed(_ proxy: TestProxy, _ inputs: [String], extra: String = "", headers: [(String, String)] = []) async throws
        -> TestProxy.Reply {
        try await proxy.send(.POST, "/v1/embeddings", body: Self.body(inputs, extra: extra), headers: headers)
    }

    static func body(_ inputs: [String], extra: String = "") -> String {
        let list = JSONValue.array(inputs.map(JSONValue.string)).jsonString
        return #"{"model":"\#(model)","input":\#(list)\#(extra)}"#
    }

    private func embed(_ proxy: TestProxy, raw input: String, extra: String = "") async throws -> TestProxy.Reply {
        try await proxy.send(.POST, "/v1/embeddings", body: #"{"model":"\#(Self.model)","input":\#(input)\#(extra)}"#)
    }

    /// The vectors of an answer in `data` order, with their `index` values.
    private func vectors(_ reply: TestProxy.Reply, file: StaticString = #filePath, line: UInt = #line) throws -> (indexes: [Int], vectors: [[Float]]) {
        let json = try XCTUnwrap(reply.json, reply.body, file: file, line: line)
        let data = try XCTUnwrap(json["data"]?.arrayValue, reply.body, file: file, line: line)
        let read = try XCTUnwrap(EmbeddingBatch.read(answer: reply.bytes, count: data.count), reply.body, file: file, line: line)
        return (data.map { $0["index"]?.intValue ?? -1 }, read.vectors)
    }

    /// The `input` of every `/v1/embeddings` request the mock received, in arrival order.
    private func sentInputs(_ mock: MockUpstream) -> [JSONValue] {
        mock.recordedRequests.filter { $0.path.hasPrefix("/v1/embeddings") }.compactMap { (try? JSONParser.parse($0.body))?["input"] }
    }

    private func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }

    private func cacheStats(_ proxy: TestProxy) async throws -> JSONValue {
        let stats = try await proxy.stats()
        return try XCTUnwrap(stats["cache"])
    }

    // MARK: hits, misses and partial hits

    /// Batch A = [a, b, c], then B = [c, d, a, d, e]: c and a come from the cache, and one
    /// upstream request carries only d and e (d once, though it appears twice).
    func testABatchFetchesOnlyItsMissingInputsInOneRequest() async throws {
        try await withProxy { proxy in
            // Equal lengths: the mock's per-input tokens (characters / 4 + 1) are then exactly each
            // input's proportional share, and the assembled usage can be compared exactly.
            let (a, b, c, d, e) = ("alpha-01", "bravo-02", "charl-03", "delta-04", "echo--05")
            let first = try await embed(proxy, [a, b, c])
            XCTAssertEqual(first.status, 200, first.body)
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertEqual(first.header("x-parrot-cached-inputs"), "0/3")
            proxy.mock.resetCounters()

            let batch = [c, d, a, d, e]
            let second = try await embed(proxy, batch)
            XCTAssertEqual(second.status, 200, second.body)
            XCTAssertEqual(second.cache, "PARTIAL")
            XCTAssertEqual(second.header("x-parrot-cached-inputs"), "2/5")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 1)
            XCTAssertEqual(sentInputs(proxy.mock), [strings([d, e])])
            let answer = try vectors(second)
            XCTAssertEqual(answer.indexes, [0, 1, 2, 3, 4])
            XCTAssertEqual(answer.vectors, batch.map { MockUpstream.embedding(of: $0) }, "every position gets its own input's vector")

            // usage: what the same request costs without the cache.
            let direct = try await embed(proxy, batch, headers: [("cache-control", "no-store")])
            XCTAssertEqual(direct.cache, "BYPASS")
            let total = try XCTUnwrap(direct.json?["usage"]?["prompt_tokens"]?.intValue)
            XCTAssertEqual(second.json?["usage"]?["prompt_tokens"]?.intValue, total)
            XCTAssertEqual(second.json?["usage"]?["total_tokens"]?.intValue, total)
            XCTAssertEqual(try vectors(direct).vectors, answer.vectors)

            let cache = try await cacheStats(proxy)
            XCTAssertEqual(cache["misses"]?.intValue, 1)
            XCTAssertEqual(cache["partial_hits"]?.intValue, 1)
            XCTAssertEqual(cache["hits"]?.intValue, 0)
            XCTAssertEqual(cache["hit_rate"]?.doubleValue, 0, "a partial hit is not in hit_rate")
            XCTAssertEqual(cache["bypass"]?.intValue, 1)
            XCTAssertEqual(cache["embedding_inputs_cached"]?.intValue, 2)
            XCTAssertEqual(cache["embedding_inputs_fetched"]?.intValue, 3 + 3)
            XCTAssertEqual(cache["tokens_saved"]?.intValue, total * 2 / 5, "the tokens of c and a")
            let metrics = try await proxy.send(.GET, "/metrics").body
            XCTAssertTrue(metrics.contains(#"parrot_cache_requests_total{outcome="partial"} 1"#), metrics)
            XCTAssertTrue(metrics.contains(#"parrot_embedding_inputs_total{source="cached"} 2"#), metrics)
        }
    }

    func testARepeatedBatchIsAFullHitWithoutAnUpstreamCall() async throws {
        try await withProxy { proxy in
            let inputs = ["one", "two", "one"]
            let miss = try await embed(proxy, inputs)
            XCTAssertEqual(miss.cache, "MISS")
            XCTAssertEqual(sentInputs(proxy.mock), [strings(["one", "two"])], "a duplicate is fetched once")
            XCTAssertEqual(try vectors(miss).vectors, inputs.map { MockUpstream.embedding(of: $0) })
            let hit = try await embed(proxy, inputs)
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(hit.header("x-parrot-cached-inputs"), "3/3")
            XCTAssertNotNil(hit.header("age"))
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 1)
            XCTAssertEqual(hit.body, miss.body, "same vectors, same usage, same order")
            let cache = try await cacheStats(proxy)
            XCTAssertEqual(cache["hits"]?.intValue, 1)
            XCTAssertEqual(cache["embedding_inputs_cached"]?.intValue, 3)
        }
    }

    /// The official SDK asks for base64 by default; LangChain asks for floats. Both read the same
    /// entries and decode to the same numbers.
    func testSDKBase64BatchAndAFloatBatchShareEntries() async throws {
        try await withProxy { proxy in
            let script = PythonClient.prelude + """
            texts = ["sdk one", "sdk two", "sdk three"]
            raw = client.embeddings.with_raw_response.create(model="\(Self.model)", input=texts)
            parsed = raw.parse()
            print(json.dumps({"cache": raw.headers.get("x-parrot-cache"), "cached": raw.headers.get("x-parrot-cached-inputs"),
                              "indexes": [d.index for d in parsed.data], "vectors": [d.embedding for d in parsed.data],
                              "tokens": parsed.usage.prompt_tokens}))
            """
            let sdk = try XCTUnwrap(try PythonClient.run(script, baseURL: proxy.baseURL) as? [String: Any])
            XCTAssertEqual(sdk["cache"] as? String, "MISS")
            XCTAssertEqual(sdk["cached"] as? String, "0/3")
            XCTAssertEqual(sdk["indexes"] as? [Int], [0, 1, 2])
            let sent = try XCTUnwrap(proxy.mock.recordedRequests.last.flatMap { try? JSONParser.parse($0.body) })
            XCTAssertEqual(sent["encoding_format"], .string("base64"), "the SDK's default encoding")
            let sdkVectors = try XCTUnwrap(sdk["vectors"] as? [[Double]])
            XCTAssertEqual(sdkVectors.map { $0.map(Float.init) }, ["sdk one", "sdk two", "sdk three"].map { MockUpstream.embedding(of: $0) })

            // The SDK's credential, so the same namespace.
            let asSDK = [("authorization", "Bearer sk-test-client")]
            let floats = try await embed(proxy, ["sdk one", "sdk two", "sdk three"], extra: #","encoding_format":"float""#, headers: asSDK)
            XCTAssertEqual(floats.cache, "HIT")
            XCTAssertEqual(floats.header("x-parrot-cached-inputs"), "3/3")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 1)
            let plain = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(floats.bytes)) as? [String: Any])
            let plainVectors = try XCTUnwrap((plain["data"] as? [[String: Any]])?.map { $0["embedding"] as? [Double] } as? [[Double]])
            XCTAssertEqual(plainVectors, sdkVectors, "float answers decode to exactly the SDK's base64-decoded numbers")
            XCTAssertEqual((plain["usage"] as? [String: Any])?["prompt_tokens"] as? Int, sdk["tokens"] as? Int)

            // And the other way round: floats first, then the SDK's base64 is a hit.
            _ = try await embed(proxy, ["float first"], extra: #","encoding_format":"float""#, headers: asSDK)
            let again = try XCTUnwrap(try PythonClient.run(PythonClient.prelude + """
            raw = client.embeddings.with_raw_response.create(model="\(Self.model)", input=["float first", "sdk two"])
            parsed = raw.parse()
            print(json.dumps({"cache": raw.headers.get("x-parrot-cache"), "cached": raw.headers.get("x-parrot-cached-inputs"),
                              "vectors": [d.embedding for d in parsed.data]}))
            """, baseURL: proxy.baseURL) as? [String: Any])
            XCTAssertEqual(again["cache"] as? String, "HIT")
            XCTAssertEqual(again["cached"] as? String, "2/2")
            XCTAssertEqual((again["vectors"] as? [[Double]])?.map { $0.map(Float.init) },
                           ["float first", "sdk two"].map { MockUpstream.embedding(of: $0) })
        }
    }

    // MARK: input shapes and parameters

    func testTokenIDInputsAreCachedPerInput() async throws {
        try await withProxy { proxy in
            let first = try await embed(proxy, raw: "[[1,2,3],[4,5]]")
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertEqual(first.json?["usage"]?["prompt_tokens"]?.intValue, 5)
            let second = try await embed(proxy, raw: "[[4,5],[9,9,9]]")
            XCTAssertEqual(second.cache, "PARTIAL")
            XCTAssertEqual(second.header("x-parrot-cached-inputs"), "1/2")
            XCTAssertEqual(sentInputs(proxy.mock).last, try JSONParser.parse(Array("[[9,9,9]]".utf8)))
            XCTAssertEqual(try vectors(second).vectors, ["4 5", "9 9 9"].map { MockUpstream.embedding(of: $0) })
            XCTAssertEqual(second.json?["usage"]?["prompt_tokens"]?.intValue, 5, "a token list's share is its ids")
            // A flat list of ids is one tokenized input: the entry of [4, 5] answers it.
            let flat = try await embed(proxy, raw: "[4,5]")
            XCTAssertEqual(flat.cache, "HIT")
            XCTAssertEqual(flat.header("x-parrot-cached-inputs"), "1/1")
            XCTAssertEqual(try vectors(flat).vectors, [MockUpstream.embedding(of: "4 5")])
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 2)
        }
    }

    func testDimensionsKeepEntriesApart() async throws {
        try await withProxy { proxy in
            let four = try await embed(proxy, ["sized"], extra: #","dimensions":4"#)
            XCTAssertEqual(four.cache, "MISS")
            XCTAssertEqual(try vectors(four).vectors, [MockUpstream.embedding(of: "sized", dimensions: 4)])
            let fourAgain = try await embed(proxy, ["sized"], extra: #","dimensions":4"#)
            XCTAssertEqual(fourAgain.cache, "HIT")
            let six = try await embed(proxy, ["sized"], extra: #","dimensions":6"#)
            XCTAssertEqual(six.cache, "MISS")
            XCTAssertEqual(try vectors(six).vectors, [MockUpstream.embedding(of: "sized", dimensions: 6)])
            let unsized = try await embed(proxy, ["sized"])
            XCTAssertEqual(unsized.cache, "MISS")
            XCTAssertEqual(try vectors(unsized).vectors[0].count, 8)
        }
    }

    func testASingleStringSharesTheEntryOfTheSameStringInABatch() async throws {
        try await withProxy { proxy in
            let single = try await embed(proxy, raw: #""solo""#)
            XCTAssertEqual(single.cache, "MISS")
            XCTAssertEqual(single.header("x-parrot-cached-inputs"), "0/1")
            let batch = try await embed(proxy, ["solo", "other"])
            XCTAssertEqual(batch.cache, "PARTIAL")
            XCTAssertEqual(sentInputs(proxy.mock).last, strings(["other"]))
            let other = try await embed(proxy, raw: #""other""#)
            XCTAssertEqual(other.cache, "HIT")
            let answer = try vectors(other)
            XCTAssertEqual(answer.indexes, [0])
            XCTAssertEqual(answer.vectors, [MockUpstream.embedding(of: "other")])
            let again = try await embed(proxy, raw: #""solo""#)
            XCTAssertEqual(again.body, single.body)
        }
    }

    // MARK: coalescing and splitting

    /// Two batches in flight at once that share inputs: each shared input is fetched once, by
    /// the batch that asked first; the other waits for it and fetches only its own.
    func testConcurrentBatchesFetchEachSharedInputOnce() async throws {
        try await withProxy { proxy in
            let slow = Task {
                try await proxy.send(.POST, "/v1/embeddings", body: Self.body(["shared-1", "shared-2", "first only"]),
                                     headers: [("x-mock-delay-ms", "700")])
            }
            let arrived = try await eventually(10) { proxy.mock.requestCount(path: "/v1/embeddings") == 1 }
            XCTAssertTrue(arrived)
            let second = try await embed(proxy, ["shared-2", "second only", "shared-1"])
            let first = try await slow.value
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 2)
            XCTAssertEqual(sentInputs(proxy.mock), [strings(["shared-1", "shared-2", "first only"]), strings(["second only"])])
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertEqual(second.cache, "MISS", "inputs waited for are fetched, not cached")
            XCTAssertEqual(second.header("x-parrot-cached-inputs"), "0/3")
            XCTAssertEqual(try vectors(second).vectors, ["shared-2", "second only", "shared-1"].map { MockUpstream.embedding(of: $0) })
            XCTAssertEqual(try vectors(first).vectors, ["shared-1", "shared-2", "first only"].map { MockUpstream.embedding(of: $0) })
            XCTAssertEqual(proxy.engine.embeddingInFlight.count, 0)
        }
    }

    /// When the batch fetching a shared input fails, the batch waiting for it fetches it itself.
    func testAWaitingBatchFetchesItselfWhenTheSharedFetchFails() async throws {
        try await withProxy { proxy in
            let failing = Task {
                try await proxy.send(.POST, "/v1/embeddings", body: Self.body(["doomed", "fine"]),
                                     headers: [("x-mock-delay-ms", "500"), ("x-mock-status", "400")])
            }
            let arrived = try await eventually(10) { proxy.mock.requestCount(path: "/v1/embeddings") == 1 }
            XCTAssertTrue(arrived)
            let waiting = try await embed(proxy, ["doomed"])
            let failed = try await failing.value
            XCTAssertEqual(failed.status, 400)
            XCTAssertEqual(failed.cache, "MISS")
            XCTAssertEqual(waiting.status, 200, waiting.body)
            XCTAssertEqual(try vectors(waiting).vectors, [MockUpstream.embedding(of: "doomed")])
            XCTAssertEqual(sentInputs(proxy.mock).last, strings(["doomed"]))
            let stored = try await embed(proxy, ["doomed", "fine"])
            XCTAssertEqual(stored.cache, "PARTIAL", "the failed answer stored nothing")
        }
    }

    func testMissingInputsAreSplitAtTheProviderLimit() async throws {
        try await withProxy { proxy in
            proxy.engine.embeddingInFlight.maxInputsPerRequest = 2
            _ = try await embed(proxy, ["c"])
            let inputs = ["a", "b", "c", "d", "e", "f", "a"]
            let reply = try await embed(proxy, inputs)
            XCTAssertEqual(reply.cache, "PARTIAL")
            XCTAssertEqual(reply.header("x-parrot-cached-inputs"), "1/7")
            XCTAssertEqual(Array(sentInputs(proxy.mock).dropFirst()), [strings(["a", "b"]), strings(["d", "e"]), strings(["f"])])
            let answer = try vectors(reply)
            XCTAssertEqual(answer.indexes, Array(0..<7))
            XCTAssertEqual(answer.vectors, inputs.map { MockUpstream.embedding(of: $0) })
            XCTAssertEqual(reply.json?["usage"]?["prompt_tokens"]?.intValue, 7, "each one-letter input costs 1 token at the mock")
        }
    }

    // MARK: the cache's other rules

    func testNamespacesKeepInputsApart() async throws {
        try await withProxy { proxy in
            let alice = [("authorization", "Bearer sk-alice")], bob = [("authorization", "Bearer sk-bob")]
            let first = try await embed(proxy, ["private"], headers: alice)
            XCTAssertEqual(first.cache, "MISS")
            let other = try await embed(proxy, ["private"], headers: bob)
            XCTAssertEqual(other.cache, "MISS", "another credential never reads alice's inputs")
            let named = try await embed(proxy, ["private"], headers: alice + [("x-parrot-namespace", "team")])
            XCTAssertEqual(named.cache, "MISS")
            let again = try await embed(proxy, ["private"], headers: alice)
            XCTAssertEqual(again.cache, "HIT")
        }
    }

    func testNoStoreForwardsUnchangedAndNoCacheRefreshes() async throws {
        try await withProxy { proxy in
            let body = #"{"input":["x","x"],"model":"\#(Self.model)","encoding_format":"float"}"#
            let bypass = try await proxy.send(.POST, "/v1/embeddings", body: body, headers: [("cache-control", "no-store")])
            XCTAssertEqual(bypass.cache, "BYPASS")
            XCTAssertNil(bypass.header("x-parrot-cached-inputs"))
            XCTAssertEqual(proxy.mock.recordedRequests.last?.bodyText, body, "forwarded byte for byte")
            let miss = try await embed(proxy, ["x"])
            XCTAssertEqual(miss.cache, "MISS", "no-store stored nothing")
            let refresh = try await embed(proxy, ["x", "y"], headers: [("cache-control", "no-cache")])
            XCTAssertEqual(refresh.cache, "MISS")
            XCTAssertEqual(refresh.header("x-parrot-cached-inputs"), "0/2")
            XCTAssertEqual(sentInputs(proxy.mock).last, strings(["x", "y"]))
            let hit = try await embed(proxy, ["y", "x"])
            XCTAssertEqual(hit.cache, "HIT", "the refresh stored what it fetched")
        }
    }

    func testCacheDisabledForwardsUnchanged() async throws {
        try await withProxy(configure: { $0.cache.enabled = false }) { proxy in
            for _ in 0..<2 {
                let reply = try await embed(proxy, ["off"])
                XCTAssertEqual(reply.cache, "BYPASS")
            }
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 2)
        }
    }

    func testAnUpstreamErrorIsRelayedAndNothingIsStored() async throws {
        try await withProxy { proxy in
            _ = try await embed(proxy, ["kept"])
            let failed = try await embed(proxy, ["kept", "refused"], headers: [("x-mock-status", "400")])
            XCTAssertEqual(failed.status, 400)
            XCTAssertEqual(failed.cache, "MISS")
            XCTAssertNotNil(failed.json?["error"])
            let next = try await embed(proxy, ["kept", "refused"])
            XCTAssertEqual(next.cache, "PARTIAL")
        }
    }

    func testInputEntriesExpireWithTheirTTL() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: { $0.cache.ttlSeconds = 60 }) { proxy in
            _ = try await embed(proxy, ["short lived"], headers: [("x-parrot-ttl", "10")])
            _ = try await embed(proxy, ["long lived"])
            clock.advance(by: 30)
            let later = try await embed(proxy, ["short lived", "long lived"])
            XCTAssertEqual(later.cache, "PARTIAL")
            XCTAssertEqual(later.header("x-parrot-cached-inputs"), "1/2")
            XCTAssertEqual(sentInputs(proxy.mock).last, strings(["short lived"]))
            let young = try await embed(proxy, ["long lived"], headers: [("cache-control", "max-age=5")])
            XCTAssertEqual(young.cache, "MISS", "max-age applies per input")
        }
    }

    /// The provider failing: expired inputs within `stale_if_error_seconds` stand in (STALE),
    /// else the fallback provider answers the batch under its own keys.
    func testAFailingProviderIsCoveredByStaleInputsThenTheFallback() async throws {
        let backup = try await MockUpstream.start()
        let clock = ManualClock()
        do {
            try await withProxy(clock: clock, configure: { config in
                config.cache.ttlSeconds = 10
                config.providers["openai"]!.maxRetries = 0
                config.addBackupProvider(at: backup.baseURL)
            }) { proxy in
                let fresh = try await embed(proxy, ["old one", "old two"])
                XCTAssertEqual(fresh.header("x-parrot-provider"), "openai")
                clock.advance(by: 60)
                proxy.mock.enqueue(.status(503))
                let stale = try await embed(proxy, ["old two", "old one"])
                XCTAssertEqual(stale.status, 200, stale.body)
                XCTAssertEqual(stale.cache, "STALE")
                XCTAssertEqual(try vectors(stale).vectors, ["old two", "old one"].map { MockUpstream.embedding(of: $0) })
                XCTAssertEqual(backup.requestCount(path: "/v1/embeddings"), 0)

                proxy.mock.enqueue(.status(503))
                let covered = try await embed(proxy, ["old one", "never seen"])
                XCTAssertEqual(covered.status, 200, covered.body)
                XCTAssertEqual(covered.header("x-parrot-provider"), "backup")
                XCTAssertEqual(covered.cache, "MISS")
                XCTAssertEqual(backup.requestCount(path: "/v1/embeddings"), 1)
                XCTAssertEqual(try vectors(covered).vectors, ["old one", "never seen"].map { MockUpstream.embedding(of: $0) })
                let cache = try await cacheStats(proxy)
                XCTAssertEqual(cache["stale"]?.intValue, 1)
            }
        } catch {
            await backup.stop()
            throw error
        }
        await backup.stop()
    }

    /// Without the memory tier every input entry is in the store before the answer is sent:
    /// the next batch, and a concurrent one waiting for the same inputs, read them from there.
    func testWithoutTheMemoryTierInputsAreServedFromTheStore() async throws {
        try await withProxy(configure: { $0.cache.memoryBytes = 0 }) { proxy in
            let miss = try await embed(proxy, ["stored a", "stored b"])
            XCTAssertEqual(miss.cache, "MISS")
            XCTAssertEqual(proxy.engine.tiers.memory.count, 0)
            let hit = try await embed(proxy, ["stored b", "stored a", "stored c"])
            XCTAssertEqual(hit.cache, "PARTIAL")
            XCTAssertEqual(hit.header("x-parrot-cached-inputs"), "2/3")
            XCTAssertEqual(try vectors(hit).vectors, ["stored b", "stored a", "stored c"].map { MockUpstream.embedding(of: $0) })
        }
    }

    func testClearingTheCacheRemovesInputEntries() async throws {
        try await withProxy { proxy in
            _ = try await embed(proxy, ["gone soon"])
            let cleared = try await proxy.send(.DELETE, "/cache")
            XCTAssertEqual(cleared.status, 200, cleared.body)
            let after = try await embed(proxy, ["gone soon"])
            XCTAssertEqual(after.cache, "MISS")
        }
    }

    func testInputEntriesSurviveExportAndImport() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-emb-\(UUID().uuidString)").path
        let fresh = dir + "/fresh"
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        let proxy = try await TestProxy.start(directory: dir)
        let miss = try await embed(proxy, ["exported one", "exported two"], extra: #","encoding_format":"base64""#)
        XCTAssertEqual(miss.cache, "MISS")
        await proxy.stop()

        let export = try CLITests.run(["export", dir + "/dump.jsonl"], environment: ["PARROT_CACHE_PATH": dir + "/cache.sqlite", "PARROT_SERVER_PORT": "9"],
                                      directory: dir)
        XCTAssertEqual(export.status, 0, export.error)
        let lines = try String(contentsOfFile: dir + "/dump.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines.allSatisfy { $0.contains(#""endpoint":"/v1/embeddings#input""#) }, "\(lines)")
        let imported = try CLITests.run(["import", dir + "/dump.jsonl"], environment: ["PARROT_CACHE_PATH": fresh + "/cache.sqlite", "PARROT_SERVER_PORT": "9"],
                                        directory: fresh)
        XCTAssertEqual(imported.status, 0, imported.error)

        let again = try await TestProxy.start(directory: fresh)
        do {
            let hit = try await embed(again, ["exported two", "exported one"])
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(try vectors(hit).vectors, ["exported two", "exported one"].map { MockUpstream.embedding(of: $0) })
            XCTAssertEqual(hit.json?["usage"]?["prompt_tokens"], miss.json?["usage"]?["prompt_tokens"])
            XCTAssertEqual(again.mock.requestCount(path: "/v1/embeddings"), 0)
        } catch {
            await again.stop()
            throw error
        }
        await again.stop()
    }
}
