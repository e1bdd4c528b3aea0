import AsyncHTTPClient
import Foundation
import NIOCore
@testable import ParrotCore
import ParrotMock
import XCTest

/// Several Parrot processes on one PostgreSQL store behave as one cache: what one stores the
/// others serve, a clear through one reaches all, and a lost server never fails a request.
final class SharedCacheTests: XCTestCase {
    func testAnswerStoredThroughOneInstanceIsAHitThroughAnother() async throws {
        try await withSharedProxies { database, proxies in
            let (a, b) = (proxies[0], proxies[1])
            let credential = [("authorization", "Bearer sk-team-key")]
            let first = try await a.chat("What do parrots eat?", headers: credential)
            XCTAssertEqual(first.status, 200)
            XCTAssertEqual(first.cache, "MISS")
            // The store write follows the reply to the client; the next instance sees it then.
            let landed = try await storedEntries(in: database, reach: 1)
            XCTAssertTrue(landed, "the answer reaches the shared store")
            let second = try await b.chat("What do parrots eat?", headers: credential)
            XCTAssertEqual(second.status, 200)
            XCTAssertEqual(second.cache, "HIT", "the second instance serves what the first stored (same namespace secret)")
            XCTAssertEqual(second.body, first.body, "byte-identical across instances")
            XCTAssertEqual(second.header("x-parrot-key"), first.header("x-parrot-key"))
            XCTAssertEqual(a.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testClearThroughOneInstanceEmptiesTheOthersMemoryWithinASecond() async throws {
        try await withSharedProxies { database, proxies in
            let (a, b) = (proxies[0], proxies[1])
            _ = try await a.chat("Clear me")
            let landed = try await storedEntries(in: database, reach: 1)
            XCTAssertTrue(landed, "the answer reaches the shared store (its write follows the reply)")
            let warm = try await b.chat("Clear me")
            XCTAssertEqual(warm.cache, "HIT", "now in the second instance's memory tier too")

            let cleared = try await a.send(.DELETE, "/cache")
            XCTAssertEqual(cleared.status, 200)
            let missedInTime = try await eventually(1.5) { try await b.chat("Clear me").cache == "MISS" }
            XCTAssertTrue(missedInTime, "the other instance drops its memory copy within ~1 s of the clear")
        }
    }

    /// Two real `parrot` processes on one database. Each round makes sure B holds the answer in
    /// its memory tier, clears through A's `DELETE /cache`, and measures the time from A's reply
    /// until B answers MISS (its memory copy dropped; the store row is gone with the clear).
    ///
    /// Why every one of several rounds must land within 500 ms, rather than switching the poll
    /// off: the 1 s poll is not configurable, and a knob only tests would use is not worth adding.
    /// Without the notification, B drops its copy only at its next poll tick. The first round then
    /// lands at a random point of that second (below 500 ms half the time), but each later round
    /// starts right after the tick that ended the previous one and so waits most of a second: the
    /// second round already fails. With NOTIFY each round lands in milliseconds; 500 ms leaves a
    /// loaded machine room. (Checked by running it with the `pg_notify` statement removed: every
    /// round took 0.97–1.0 s, and the test failed.)
    func testClearThroughOneProcessReachesTheOthersMemoryTierWellWithinThePollInterval() async throws {
        try await withTestDatabase { database in
            let mock = try await MockUpstream.start()
            let checker = try await PostgresStore.connect(url: database.url, poolSize: 1, logger: TestPostgres.quietLogger)
            var processes: [ParrotProcess] = []
            func stopAll() async {
                for process in processes { await process.stop() }
                try? await checker.close()
                await mock.stop()
            }
            do {
                for _ in 0..<2 {
                    let directory = try makeTemporaryDirectory("parrot-clear-notify")
                    let environment = ParrotProcess.environment(mock: mock.baseURL, directory: directory, extra: [
                        "PARROT_CACHE_STORE": "postgres",
                        "PARROT_CACHE_POSTGRES_URL": database.url,
                    ])
                    processes.append(try await ParrotProcess.start(directory: directory, environment: environment))
                }
                let (a, b) = (processes[0], processes[1])
                let prompt = "Clear me through the other process"
                let first = try await cacheOutcome(of: prompt, at: a)
                XCTAssertEqual(first, "MISS")

                var landings: [Duration] = []
                for round in 1...6 {
                    // B's copy of the answer must be in the store before the clear, or its late
                    // write would survive the clear and turn B's next answer into a HIT.
                    let stored = try await eventually(10) { try await checker.summary().entries == 1 }
                    XCTAssertTrue(stored, "round \(round): the answer is in the shared store")
                    let warm = try await cacheOutcome(of: prompt, at: b)
                    XCTAssertEqual(warm, "HIT", "round \(round): B holds the answer (and so its memory tier does)")

                    var clear = HTTPClientRequest(url: a.baseURL + "/cache")
                    clear.method = .DELETE
                    let cleared = try await HTTPClient.shared.execute(clear, timeout: .seconds(10))
                    _ = try await cleared.body.collect(upTo: 1 << 16)
                    XCTAssertEqual(cleared.status, .ok)
                    let clearedAt = ContinuousClock.now

                    let missed = try await eventually(3) { try await cacheOutcome(of: prompt, at: b) == "MISS" }
                    let landing = ContinuousClock.now - clearedAt
                    XCTAssertTrue(missed, "round \(round): B drops its memory copy after the clear through A\n\(b.logTail())")
                    landings.append(landing)
                }
                XCTAssertTrue(landings.allSatisfy { $0 < .milliseconds(500) },
                              "every clear reaches B's memory tier within 500 ms, well within the 1 s poll: \(landings)")
            } catch {
                await stopAll()
                throw error
            }
            await stopAll()
        }
    }

    func testConcurrentIdenticalMissesAcrossInstancesLeaveOneEntry() async throws {
        try await withSharedProxies(mockOptions: MockOptions(latencyMs: 200)) { database, proxies in
            let replies = try await withThrowingTaskGroup(of: TestProxy.Reply.self) { group in
                for n in 0..<20 {
                    let proxy = proxies[n % 2]
                    group.addTask { try await proxy.chat("Everyone asks this at once") }
                }
                return try await group.reduce(into: [TestProxy.Reply]()) { $0.append($1) }
            }
            XCTAssertEqual(replies.count, 20)
            for reply in replies {
                XCTAssertEqual(reply.status, 200)
                XCTAssertTrue(["MISS", "HIT"].contains(reply.cache ?? ""), "coalesced (MISS) or served after the first finished (HIT): \(reply.cache ?? "none")")
                XCTAssertNotNil(reply.json?["choices"]?[0]?["message"]?["content"]?.stringValue, "a valid answer: \(reply.body)")
            }
            let upstreamCalls = proxies[0].mock.requestCount(path: "/v1/chat/completions")
            XCTAssertTrue((1...2).contains(upstreamCalls), "one upstream call per instance at most, got \(upstreamCalls)")

            let oneEntry = try await storedEntries(in: database, reach: 1)
            XCTAssertTrue(oneEntry, "both instances stored the same key: one entry")
            for proxy in proxies {
                let ready = try await proxy.send(.GET, "/readyz")
                XCTAssertEqual(ready.json?["store"]?.stringValue, "ok")
                XCTAssertFalse(proxy.logs.all.contains { $0.contains("cache store failed") }, "concurrent upserts of one key never fail")
                let hit = try await proxy.chat("Everyone asks this at once")
                XCTAssertEqual(hit.cache, "HIT")
            }
        }
    }

    func testUnreachableServerAtStartNamesTheKeyNotThePassword() async throws {
        let mock = try await MockUpstream.start()
        do {
            let proxy = try await TestProxy.start(mock: mock) {
                $0.cache.store = "postgres"
                $0.cache.postgresUrl = "postgres://parrot:Sup3r-Secret-PW@127.0.0.1:1/parrot"
            }
            await proxy.stop()
            XCTFail("Parrot started without its store")
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.contains("cache.postgres_url"), text)
            XCTAssertFalse(text.contains("Sup3r-Secret-PW"), text)
            await mock.stop()
        }
    }

    func testLostServerMeansBypassAndUnreachableThenCachingResumes() async throws {
        try await withSharedProxies(count: 1) { database, proxies in
            let proxy = proxies[0]
            let before = try await proxy.chat("Asked before the outage")
            XCTAssertEqual(before.cache, "MISS")
            let readyBefore = try await proxy.send(.GET, "/readyz")
            XCTAssertEqual(readyBefore.json?["store"]?.stringValue, "ok")

            try await database.cutOff()
            do {
                for _ in 0..<2 {
                    let during = try await proxy.chat("Asked during the outage")
                    XCTAssertEqual(during.status, 200, "a lost store never fails a request")
                    XCTAssertEqual(during.cache, "BYPASS")
                    XCTAssertNotNil(during.json?["choices"], during.body)
                }
                let ready = try await proxy.send(.GET, "/readyz")
                XCTAssertEqual(ready.status, 200, "a lost store does not take the instance out of the load balancer")
                XCTAssertEqual(ready.json?["store"]?.stringValue, "unreachable")
            } catch {
                try? await database.restore()
                throw error
            }
            try await database.restore()

            let reachable = try await eventually(30) {
                try await proxy.send(.GET, "/readyz").json?["store"]?.stringValue == "ok"
            }
            XCTAssertTrue(reachable, "the store is found again once the server is back")
            let miss = try await proxy.chat("Asked after the outage")
            XCTAssertEqual(miss.cache, "MISS")
            let hit = try await proxy.chat("Asked after the outage")
            XCTAssertEqual(hit.cache, "HIT", "caching resumes")
            for line in proxy.logs.all {
                XCTAssertFalse(line.contains(database.server.password ?? "\u{0}"), "a log line carries the password: \(line)")
            }
        }
    }
}

/// The `X-Parrot-Cache` of a plain chat request to a `parrot` process.
private func cacheOutcome(of prompt: String, at parrot: ParrotProcess) async throws -> String? {
    var request = HTTPClientRequest(url: parrot.baseURL + "/v1/chat/completions")
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(prompt)"}]}"#))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    _ = try await response.body.collect(upTo: 1 << 20)
    guard response.status == .ok else { throw TestError("\(parrot.baseURL) answered \(response.status)") }
    return response.headers.first(name: "x-parrot-cache")
}

/// Polls the shared store until it holds exactly `count` entries (stores land after replies).
private func storedEntries(in database: TestDatabase, reach count: Int) async throws -> Bool {
    let store = try await PostgresStore.connect(url: database.url, poolSize: 1, logger: TestPostgres.quietLogger)
    do {
        let reached = try await eventually(5) { try await store.summary().entries == count }
        try await store.close()
        return reached
    } catch {
        try? await store.close()
        throw error
    }
}

/// Starts `count` Parrot instances on one fresh PostgreSQL database in front of one mock, runs
/// `body`, and stops everything whether it passed or failed.
private func withSharedProxies(
    count: Int = 2,
    mockOptions: MockOptions = MockOptions(),
    _ body: (TestDatabase, [TestProxy]) async throws -> Void
) async throws {
    try await withTestDatabase { database in
        let mock = try await MockUpstream.start(options: mockOptions)
        var proxies: [TestProxy] = []
        func stopAll() async {
            for proxy in proxies { await proxy.stop(keepMock: true) }
            await mock.stop()
        }
        do {
            for _ in 0..<count {
                proxies.append(try await TestProxy.start(mock: mock) {
                    $0.cache.store = "postgres"
                    $0.cache.postgresUrl = database.url
                })
            }
            try await body(database, proxies)
        } catch {
            await stopAll()
            throw error
        }
        await stopAll()
    }
}
