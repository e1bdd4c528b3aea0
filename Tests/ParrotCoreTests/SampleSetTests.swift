import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// Sample sets: up to N distinct answers under one key, fetched while fewer than N are stored,
/// then served in rotation; `X-Parrot-Sample: i` addresses one of them.
final class SampleSetTests: XCTestCase {
    private let three = [("x-parrot-samples", "3")]

    func testASetFillsWithDistinctAnswersThenRotatesInSampleOrder() async throws {
        try await withProxy { proxy in
            var ids: [String] = []
            for expected in 0..<3 {
                let reply = try await proxy.chat("sampled", extra: #","temperature":1"#, headers: three)
                XCTAssertEqual(reply.cache, "MISS")
                XCTAssertEqual(reply.header("x-parrot-sample"), String(expected))
                ids.append(try XCTUnwrap(reply.json?["id"]?.stringValue))
            }
            XCTAssertEqual(Set(ids).count, 3, "three distinct answers from the provider")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 3)
            for round in 0..<2 {
                for expected in 0..<3 {
                    let reply = try await proxy.chat("sampled", extra: #","temperature":1"#, headers: three)
                    XCTAssertEqual(reply.cache, "HIT", "round \(round)")
                    XCTAssertEqual(reply.header("x-parrot-sample"), String(expected))
                    XCTAssertEqual(reply.json?["id"]?.stringValue, ids[expected])
                }
            }
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 3)
            // Sample 0 is the key's own entry: a request without sample sets gets it.
            let plain = try await proxy.chat("sampled", extra: #","temperature":1"#)
            XCTAssertEqual(plain.cache, "HIT")
            XCTAssertEqual(plain.json?["id"]?.stringValue, ids[0])
            XCTAssertNil(plain.header("x-parrot-sample"))
        }
    }

    func testOneSampleIsFetchedWhenAbsentThenServed() async throws {
        try await withProxy { proxy in
            let asked = [("x-parrot-sample", "2")]
            let first = try await proxy.chat("one sample", headers: asked)
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertEqual(first.header("x-parrot-sample"), "2")
            let again = try await proxy.chat("one sample", headers: asked)
            XCTAssertEqual(again.cache, "HIT")
            XCTAssertEqual(again.json?["id"], first.json?["id"])
            let reply1 = try await proxy.chat("one sample")
            XCTAssertEqual(reply1.cache, "MISS", "sample 0 is another entry")
            let reply2 = try await proxy.chat("one sample", headers: [("x-parrot-sample", "16")])
            XCTAssertEqual(reply2.status, 400)
            let reply3 = try await proxy.chat("one sample", headers: [("x-parrot-samples", "0")])
            XCTAssertEqual(reply3.status, 400)
        }
    }

    func testTheConfiguredDefaultAppliesAndAClearEmptiesTheWholeFamily() async throws {
        try await withProxy(configure: { $0.cache.samples = 2 }) { proxy in
            let reply4 = try await proxy.chat("family")
            XCTAssertEqual(reply4.header("x-parrot-sample"), "0")
            let reply5 = try await proxy.chat("family")
            XCTAssertEqual(reply5.header("x-parrot-sample"), "1")
            let reply6 = try await proxy.chat("family")
            XCTAssertEqual(reply6.cache, "HIT")
            let reply7 = try await proxy.send(.DELETE, "/cache")
            XCTAssertEqual(reply7.status, 200)
            let after = try await proxy.chat("family")
            XCTAssertEqual(after.cache, "MISS")
            XCTAssertEqual(after.header("x-parrot-sample"), "0")
        }
    }

    func testASetExpiresAsOneFamily() async throws {
        let clock = ManualClock()
        try await withProxy(clock: clock) { proxy in
            let first = try await proxy.chat("family ttl", headers: three + [("x-parrot-ttl", "100")])
            XCTAssertEqual(first.header("x-parrot-sample"), "0")
            clock.advance(by: 60)
            // Asked for a day, but kept only as long as sample 0: 40 more seconds.
            let second = try await proxy.chat("family ttl", headers: three + [("x-parrot-ttl", "86400")])
            XCTAssertEqual(second.header("x-parrot-sample"), "1")
            clock.advance(by: 41)
            let after = try await proxy.chat("family ttl", headers: [("x-parrot-sample", "1")])
            XCTAssertEqual(after.cache, "MISS", "sample 1 expired with sample 0")
        }
    }

    /// A semantic hit on a sample set's family takes the family's samples in turn.
    func testASemanticHitRotatesTheMatchedFamilysSamples() async throws {
        let mock = try await MockUpstream.start()
        mock.setEmbedding([1, 0, 0, 0, 0, 0, 0, 0], for: "user: tell me about parrots")
        mock.setEmbedding([0.95, (1 - 0.95 * 0.95).squareRoot(), 0, 0, 0, 0, 0, 0], for: "user: tell me about the parrots")
        try await withProxy(mock: mock, configure: { config in
            config.semantic.enabled = true
            config.semantic.model = "text-embedding-3-small"
        }) { proxy in
            let two = [("x-parrot-samples", "2")]
            let filled = try await [proxy.chat("tell me about parrots", headers: two), proxy.chat("tell me about parrots", headers: two)]
            XCTAssertEqual(filled.map(\.cache), ["MISS", "MISS"])
            let ids = Set(filled.compactMap { $0.json?["id"]?.stringValue })
            XCTAssertEqual(ids.count, 2)
            var served: Set<String> = []
            for _ in 0..<2 {
                let similar = try await proxy.chat("tell me about the parrots", headers: two)
                XCTAssertEqual(similar.cache, "SEMANTIC")
                served.insert(similar.json?["id"]?.stringValue ?? "")
            }
            XCTAssertEqual(served, ids, "both samples of the matched family were served")
        }
        await mock.stop()
    }

    func testReplayRotatesAmongTheRecordedSamples() async throws {
        try await withProxy { proxy in
            _ = try await proxy.chat("recorded two", headers: three)
            _ = try await proxy.chat("recorded two", headers: three)
            let replay = three + [("x-parrot-cache-mode", "replay")]
            let served = try await [proxy.chat("recorded two", headers: replay), proxy.chat("recorded two", headers: replay)]
            XCTAssertEqual(served.map(\.cache), ["HIT", "HIT"])
            XCTAssertEqual(Set(served.compactMap { $0.header("x-parrot-sample") }), ["0", "1"])
            let reply8 = try await proxy.chat("never recorded", headers: replay)
            XCTAssertEqual(reply8.status, 504)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
        }
    }

    /// With the official SDK: an evaluation at temperature 1 sees real variety at cache cost.
    func testTheSDKSeesEachSampleAndThenTheSetAgain() async throws {
        try await withProxy { proxy in
            let result = try PythonClient.run(PythonClient.prelude + """
            seen = []
            for _ in range(6):
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", temperature=1, messages=[{"role": "user", "content": "eval prompt"}],
                    extra_headers={"X-Parrot-Samples": "3"})
                completion = raw.parse()
                seen.append({"id": completion.id, "type": type(completion).__name__,
                             "cache": raw.headers.get("x-parrot-cache"), "sample": raw.headers.get("x-parrot-sample")})
            print(json.dumps(seen))
            """, baseURL: proxy.baseURL)
            let seen = try XCTUnwrap(result as? [[String: Any]])
            XCTAssertEqual(seen.map { $0["cache"] as? String }, ["MISS", "MISS", "MISS", "HIT", "HIT", "HIT"])
            XCTAssertEqual(seen.map { $0["sample"] as? String }, ["0", "1", "2", "0", "1", "2"])
            XCTAssertTrue(seen.allSatisfy { $0["type"] as? String == "ChatCompletion" })
            let ids = seen.map { $0["id"] as? String }
            XCTAssertEqual(Set(ids.prefix(3)).count, 3)
            XCTAssertEqual(Array(ids.suffix(3)), Array(ids.prefix(3)))
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 3)
        }
    }
}
