import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// `cache.mode`, `X-Parrot-Cache-Mode` and `Cache-Control: only-if-cached` on real sockets:
/// what each mode serves, stores and fetches, and the dry-run figures of offline misses.
final class CacheModeTests: XCTestCase {
    private func errorObject(_ reply: TestProxy.Reply) -> (type: String?, code: String?, message: String) {
        let error = reply.json?["error"]
        return (error?["type"]?.stringValue, error?["code"]?.stringValue, error?["message"]?.stringValue ?? "")
    }

    func testOnlyIfCachedMissIsA504CacheMissThatNeverReachesTheProvider() async throws {
        try await withProxy { proxy in
            let offline = [("cache-control", "only-if-cached")]
            let miss = try await proxy.chat("never asked before", headers: offline)
            XCTAssertEqual(miss.status, 504)
            XCTAssertEqual(miss.cache, "MISS")
            let (type, code, message) = errorObject(miss)
            XCTAssertEqual(type, "cache_miss")
            XCTAssertEqual(code, "cache_miss")
            let prefix = try XCTUnwrap(miss.header("x-parrot-key"))
            XCTAssertTrue(message.contains("gpt-4o-mini") && message.contains(prefix), message)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 0)
            XCTAssertEqual(proxy.mock.connectionsOpened, 0, "the provider is never contacted")
            // Nothing was stored: a second offline request misses again.
            let reply1 = try await proxy.chat("never asked before", headers: offline)
            XCTAssertEqual(reply1.status, 504)

            let stats = try await proxy.stats()
            XCTAssertEqual(stats["cache"]?["offline_misses"]?.intValue, 2)
            XCTAssertEqual(stats["cache"]?["misses"]?.intValue, 0, "offline misses are not misses")
            XCTAssertGreaterThan(stats["cache"]?["offline_miss_tokens"]?.intValue ?? 0, 0)
            XCTAssertGreaterThan(stats["cache"]?["offline_miss_cost_usd"]?.doubleValue ?? 0, 0, "gpt-4o-mini is priced")

            // Once recorded, the same offline request is a hit.
            let reply2 = try await proxy.chat("never asked before")
            XCTAssertEqual(reply2.cache, "MISS")
            let hit = try await proxy.chat("never asked before", headers: offline)
            XCTAssertEqual(hit.status, 200)
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testOnlyIfCachedSpendsNoRateLimitBudget() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.rpm = 1 }) { proxy in
            for _ in 0..<5 {
                let reply3 = try await proxy.chat("budget", headers: [("cache-control", "only-if-cached")])
                XCTAssertEqual(reply3.status, 504)
            }
            let live = try await proxy.chat("budget")
            XCTAssertEqual(live.status, 200, "the one request per minute is still there: \(live.body)")
        }
    }

    func testReadOnlyLooksUpButNeverStores() async throws {
        try await withProxy { proxy in
            let readOnly = [("x-parrot-cache-mode", "read_only")]
            let reply4 = try await proxy.chat("read only", headers: readOnly)
            XCTAssertEqual(reply4.cache, "MISS")
            let reply5 = try await proxy.chat("read only", headers: readOnly)
            XCTAssertEqual(reply5.cache, "MISS", "the first answer was not stored")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
            let reply6 = try await proxy.chat("read only")
            XCTAssertEqual(reply6.cache, "MISS")
            let reply7 = try await proxy.chat("read only", headers: readOnly)
            XCTAssertEqual(reply7.cache, "HIT")
        }
        try await withProxy(configure: { $0.cache.mode = "read_only" }) { proxy in
            let reply8 = try await proxy.chat("server read only")
            XCTAssertEqual(reply8.cache, "MISS")
            let reply9 = try await proxy.chat("server read only")
            XCTAssertEqual(reply9.cache, "MISS")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["cache"]?["entries"]?.intValue, 0)
        }
    }

    func testWriteOnlyReRecordsAndNeverServesFromTheCache() async throws {
        try await withProxy { proxy in
            let first = try await proxy.chat("re-record")
            let reply10 = try await proxy.chat("re-record")
            XCTAssertEqual(reply10.cache, "HIT")
            let rerecord = try await proxy.chat("re-record", headers: [("x-parrot-cache-mode", "write_only")])
            XCTAssertEqual(rerecord.cache, "MISS")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
            XCTAssertNotEqual(rerecord.json?["id"], first.json?["id"], "a fresh answer from the provider")
            let after = try await proxy.chat("re-record")
            XCTAssertEqual(after.cache, "HIT")
            XCTAssertEqual(after.json?["id"], rerecord.json?["id"], "the re-recorded answer replaced the old one")
        }
    }

    func testARequestCannotWidenTheServersMode() async throws {
        try await withProxy(configure: { $0.cache.mode = "read_only" }) { proxy in
            let refused = try await proxy.chat("widen", headers: [("x-parrot-cache-mode", "write_only")])
            XCTAssertEqual(refused.status, 400)
            let message = errorObject(refused).message
            XCTAssertTrue(message.contains("read_only") && message.contains("widen"), message)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 0)
            // Narrowing is fine.
            let reply11 = try await proxy.chat("widen", headers: [("x-parrot-cache-mode", "replay")])
            XCTAssertEqual(reply11.status, 504)
        }
        try await withProxy(configure: { $0.cache.mode = "replay" }) { proxy in
            let reply12 = try await proxy.chat("widen", headers: [("x-parrot-cache-mode", "read_write")])
            XCTAssertEqual(reply12.status, 400)
            XCTAssertEqual(proxy.mock.connectionsOpened, 0)
        }
    }

    func testModeOffBypassesTheCache() async throws {
        try await withProxy(configure: { $0.cache.mode = "off" }) { proxy in
            let reply13 = try await proxy.chat("off")
            XCTAssertEqual(reply13.cache, "BYPASS")
            let reply14 = try await proxy.chat("off")
            XCTAssertEqual(reply14.cache, "BYPASS")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
        }
    }

    func testMaxStaleLetsAnOfflineRequestTakeAnExpiredAnswer() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock, configure: { $0.cache.staleIfErrorSeconds = 3600 }) { proxy in
            let reply15 = try await proxy.chat("stale offline", headers: [("x-parrot-ttl", "10")])
            XCTAssertEqual(reply15.cache, "MISS")
            clock.advance(by: 60)
            let reply16 = try await proxy.chat("stale offline", headers: [("cache-control", "only-if-cached")])
            XCTAssertEqual(reply16.status, 504)
            let stale = try await proxy.chat("stale offline", headers: [("cache-control", "only-if-cached, max-stale")])
            XCTAssertEqual(stale.status, 200)
            XCTAssertEqual(stale.cache, "STALE")
            let tooOld = try await proxy.chat("stale offline", headers: [("cache-control", "only-if-cached, max-stale=30")])
            XCTAssertEqual(tooOld.status, 504, "expired 50 s ago, more than max-stale=30")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    /// Replay mode and per-input embeddings: a batch whose every input is recorded is served; one
    /// with any input missing is a 504 that fetches nothing and is counted as an offline miss.
    func testReplayServesARecordedEmbeddingsBatchAndRefusesAnIncompleteOne() async throws {
        try await withProxy { proxy in
            let recorded = #"{"model":"text-embedding-3-small","input":["alpha","beta"],"encoding_format":"float"}"#
            let recording = try await proxy.send(.POST, "/v1/embeddings", body: recorded)
            XCTAssertEqual(recording.cache, "MISS")
            let replay = [("x-parrot-cache-mode", "replay")]
            let hit = try await proxy.send(.POST, "/v1/embeddings", body: recorded, headers: replay)
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(hit.header("x-parrot-cached-inputs"), "2/2")
            let incomplete = #"{"model":"text-embedding-3-small","input":["beta","gamma","alpha"],"encoding_format":"float"}"#
            let refused = try await proxy.send(.POST, "/v1/embeddings", body: incomplete, headers: replay)
            XCTAssertEqual(refused.status, 504)
            XCTAssertEqual(refused.cache, "MISS")
            XCTAssertEqual(refused.header("x-parrot-cached-inputs"), "2/3")
            XCTAssertEqual(errorObject(refused).code, "cache_miss")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/embeddings"), 1, "nothing was fetched for the incomplete batch")
            let cache = try await proxy.stats()["cache"]
            XCTAssertEqual(cache?["offline_misses"]?.intValue, 1)
            XCTAssertEqual(cache?["by_endpoint"]?["/v1/embeddings"]?["hits"]?.intValue, 1)
            XCTAssertEqual(cache?["by_endpoint"]?["/v1/embeddings"]?["misses"]?.intValue, 1)
        }
    }

    /// The per-endpoint view of traffic made by the official SDK: chat and embeddings share one
    /// cache, and `/stats.cache.by_endpoint` keeps them apart.
    func testByEndpointCountsWhatTheSDKDid() async throws {
        try await withProxy { proxy in
            _ = try PythonClient.run(PythonClient.prelude + """
            for _ in range(3):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "by endpoint"}])
            for _ in range(2):
                client.embeddings.create(model="text-embedding-3-small", input=["one", "two"])
            print(json.dumps({}))
            """, baseURL: proxy.baseURL)
            let byEndpoint = try await proxy.stats()["cache"]?["by_endpoint"]
            let chat = byEndpoint?["/v1/chat/completions"], embeddings = byEndpoint?["/v1/embeddings"]
            XCTAssertEqual(chat?["misses"]?.intValue, 1)
            XCTAssertEqual(chat?["hits"]?.intValue, 2)
            XCTAssertEqual(embeddings?["misses"]?.intValue, 1)
            XCTAssertEqual(embeddings?["hits"]?.intValue, 1)
            XCTAssertGreaterThan(embeddings?["tokens_saved"]?.intValue ?? 0, 0)
            XCTAssertEqual(byEndpoint?["/v1/completions"]?["hits"]?.intValue, 0)
        }
    }

    func testStatsByEndpoint() async throws {
        try await withProxy { proxy in
            _ = try await proxy.chat("per endpoint")
            _ = try await proxy.chat("per endpoint")
            _ = try await proxy.send(.POST, "/v1/embeddings", body: #"{"model":"text-embedding-3-small","input":"per endpoint"}"#)
            let byEndpoint = try await proxy.stats()["cache"]?["by_endpoint"]
            let chat = byEndpoint?["/v1/chat/completions"]
            XCTAssertEqual(chat?["hits"]?.intValue, 1)
            XCTAssertEqual(chat?["misses"]?.intValue, 1)
            XCTAssertGreaterThan(chat?["tokens_saved"]?.intValue ?? 0, 0)
            XCTAssertGreaterThan(chat?["cost_saved_usd"]?.doubleValue ?? 0, 0)
            XCTAssertEqual(byEndpoint?["/v1/embeddings"]?["misses"]?.intValue, 1)
            XCTAssertEqual(byEndpoint?["/v1/embeddings"]?["hits"]?.intValue, 0)
            XCTAssertEqual(byEndpoint?["/v1/responses"]?["hits"]?.intValue, 0)
        }
    }

    /// The CI recipe of the README, end to end with the official SDK: record with a live
    /// provider, `parrot export`, `parrot import` into a fresh store, then serve it with
    /// `PARROT_CACHE_MODE=replay` and no provider key: recorded requests are answered, an
    /// unrecorded one is a 504 `cache_miss`, and the upstream never sees a connection.
    func testReplayModeAnswersRecordedRequestsWithoutAnyConnectionToTheProvider() async throws {
        let recordDir = try makeTemporaryDirectory("parrot-record")
        let replayDir = try makeTemporaryDirectory("parrot-replay")
        defer {
            try? FileManager.default.removeItem(atPath: recordDir)
            try? FileManager.default.removeItem(atPath: replayDir)
        }
        let script = PythonClient.prelude + """
        mode = os.environ["MODE"]
        out = {}
        for prompt in ["first eval case", "second eval case"]:
            raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
            completion = raw.parse()
            out[prompt] = {"type": type(completion).__name__, "content": completion.choices[0].message.content,
                           "cache": raw.headers.get("x-parrot-cache")}
        if mode == "replay":
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "never recorded"}])
                out["unrecorded"] = "answered"
            except openai.APIStatusError as error:
                out["unrecorded"] = {"status": error.status_code, "code": error.code, "type": error.type,
                                     "cache": error.response.headers.get("x-parrot-cache")}
        print(json.dumps(out))
        """

        // Namespaces derive from the caller's credential under the namespace secret, which an
        // export never carries: recording and CI share one through `cache.namespace_secret_env`.
        let secret = ["PARROT_CACHE_NAMESPACE_SECRET_ENV": "CI_NAMESPACE_SECRET", "CI_NAMESPACE_SECRET": "ci-secret-\(UUID().uuidString)"]

        // Record.
        let live = try await MockUpstream.start()
        let recorder = try await ParrotProcess.start(
            directory: recordDir, environment: ParrotProcess.environment(mock: live.baseURL, directory: recordDir, extra: secret))
        let recorded = try XCTUnwrap(PythonClient.run(script, baseURL: recorder.baseURL, environment: ["MODE": "record"]) as? [String: Any])
        await recorder.stop()
        await live.stop()
        XCTAssertEqual((recorded["first eval case"] as? [String: Any])?["cache"] as? String, "MISS")
        XCTAssertEqual(live.requestCount(path: "/v1/chat/completions"), 2)

        // Export, import into a fresh store.
        let dump = recordDir + "/cache.jsonl"
        let export = try CLITests.run(["export", dump], environment: ["PARROT_CACHE_PATH": recordDir + "/cache.sqlite"], directory: recordDir)
        XCTAssertEqual(export.status, 0, export.error)
        let imported = try CLITests.run(["import", dump], environment: ["PARROT_CACHE_PATH": replayDir + "/cache.sqlite"], directory: replayDir)
        XCTAssertEqual(imported.status, 0, imported.error)

        // Replay: the provider's address answers, but must never be called.
        let watched = try await MockUpstream.start()
        let replayer = try await ParrotProcess.start(
            directory: replayDir,
            environment: ParrotProcess.environment(mock: watched.baseURL, directory: replayDir,
                                                  extra: secret.merging(["PARROT_CACHE_MODE": "replay"]) { $1 }))
        let replayed: [String: Any]
        do {
            replayed = try XCTUnwrap(PythonClient.run(script, baseURL: replayer.baseURL, environment: ["MODE": "replay"]) as? [String: Any])
        } catch {
            await replayer.stop()
            await watched.stop()
            throw error
        }
        await replayer.stop()
        await watched.stop()
        for prompt in ["first eval case", "second eval case"] {
            let answer = try XCTUnwrap(replayed[prompt] as? [String: Any])
            XCTAssertEqual(answer["type"] as? String, "ChatCompletion")
            XCTAssertEqual(answer["content"] as? String, "Mock answer to: \(prompt)")
            XCTAssertEqual(answer["cache"] as? String, "HIT")
        }
        let unrecorded = try XCTUnwrap(replayed["unrecorded"] as? [String: Any], "\(replayed)")
        XCTAssertEqual(unrecorded["status"] as? Int, 504)
        XCTAssertEqual(unrecorded["code"] as? String, "cache_miss")
        XCTAssertEqual(unrecorded["type"] as? String, "cache_miss")
        XCTAssertEqual(unrecorded["cache"] as? String, "MISS")
        XCTAssertEqual(watched.connectionsOpened, 0, "replay never opens a connection to the provider")
    }
}
