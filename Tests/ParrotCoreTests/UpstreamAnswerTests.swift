import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// Issue #16 items 2, 5 and 6 and issue #20 item 1: answers that compress a thousandfold, the
/// `/v1/responses` key, the repeat that arrives as its leader finishes, and the provider pool's
/// in-flight count after failures.
final class UpstreamAnswerTests: XCTestCase {
    private static let chat = "/v1/chat/completions"

    /// JSON mode's documented failure: `{` and a million spaces, gzip-compressed to about a
    /// kilobyte (1:1000). It is relayed whole, parsed, and cached; the breaker counts nothing.
    func testAnswerCompressingAThousandfoldIsRelayedWhole() async throws {
        try await withProxy { proxy in
            // identity: the test client itself inflates gzip only up to a ratio.
            let headers = [("x-mock-gzip", "1"), ("x-mock-padding", "1000000"), ("accept-encoding", "identity")]
            let first = try await proxy.chat("mostly whitespace", headers: headers)
            XCTAssertEqual(first.status, 200)
            XCTAssertEqual(first.cache, "MISS")
            XCTAssertGreaterThan(first.bytes.count, 1_000_000)
            XCTAssertEqual(first.json?["choices"]?[0]?["message"]?["content"]?.stringValue, "Mock answer to: mostly whitespace")
            let second = try await proxy.chat("mostly whitespace", headers: headers)
            XCTAssertEqual(second.cache, "HIT")
            XCTAssertEqual(second.bytes, first.bytes)
            let provider = try await proxy.stats()["providers"]?["openai"]
            XCTAssertEqual(provider?["errors"]?.intValue, 0)
            XCTAssertEqual(provider?["breaker"]?["failures"]?.intValue, 0)
        }
    }

    /// Past `max_answer_bytes` (compressed or not) an answer is refused with an OpenAI-shaped
    /// 502 that names the key, the log says why, and it is not a provider failure: the breaker
    /// stays closed and an unrelated prompt is still answered.
    func testAnswerOverMaxAnswerBytesIsRefusedWithoutTrippingTheBreaker() async throws {
        try await withProxy(configure: {
            $0.providers["openai"]!.maxAnswerBytes = 100_000
            $0.providers["openai"]!.breaker.failureThreshold = 1
            $0.providers["openai"]!.maxRetries = 0
        }) { proxy in
            for (i, gzip) in ["1", "0"].enumerated() {
                let reply = try await proxy.chat("too big \(i)", headers: [("x-mock-gzip", gzip), ("x-mock-padding", "300000")])
                XCTAssertEqual(reply.status, 502, "gzip \(gzip)")
                XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "answer_too_large")
                XCTAssertTrue(reply.json?["error"]?["message"]?.stringValue?.contains("max_answer_bytes") ?? false)
            }
            XCTAssertTrue(proxy.logs.all.contains { $0.contains("answer refused") && $0.contains("max_answer_bytes") })
            let breaker = try await proxy.stats()["providers"]?["openai"]?["breaker"]
            XCTAssertEqual(breaker?["state"]?.stringValue, "closed")
            XCTAssertEqual(breaker?["failures"]?.intValue, 0)
            let unrelated = try await proxy.chat("an unrelated prompt")
            XCTAssertEqual(unrelated.status, 200)
        }
    }

    /// `store` changes what the provider keeps, so `store: true` is never answered from a
    /// `store: false` entry; `background: true` answers are never cached.
    func testResponsesStoreIsPartOfTheKeyAndBackgroundIsNotCached() async throws {
        try await withProxy { proxy in
            let base = #""model":"gpt-4o-mini","input":"remember me""#
            let unstored = try await proxy.send(.POST, "/v1/responses", body: "{\(base),\"store\":false}")
            XCTAssertEqual(unstored.cache, "MISS")
            let repeatUnstored = try await proxy.send(.POST, "/v1/responses", body: "{\(base),\"store\":false}")
            XCTAssertEqual(repeatUnstored.cache, "HIT")
            let stored = try await proxy.send(.POST, "/v1/responses", body: "{\(base),\"store\":true}")
            XCTAssertEqual(stored.cache, "MISS", "a store:true request must reach the provider")
            for _ in 0..<2 {
                let background = try await proxy.send(.POST, "/v1/responses", body: "{\(base),\"background\":true}")
                XCTAssertEqual(background.cache, "BYPASS")
            }
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/responses"), 4)
        }
    }

    /// N stream-then-repeat pairs make exactly N upstream calls, however the repeat lines up with
    /// the leader's end: the SDK stops reading at `[DONE]` and sends the repeat at once, while the
    /// provider ends its body 0–3 ms after `[DONE]`, so some repeats arrive just as the leader
    /// stores the answer and leaves the coalescer (they must find it in the memory tier).
    func testStreamThenRepeatPairsMakeOneUpstreamCallEach() async throws {
        try await withProxy { proxy in
            let pairs = 60
            let script = PythonClient.prelude + """
            same = 0
            for i in range(\(pairs)):
                kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": f"pair {i}"}], stream=True,
                              extra_headers={"x-mock-linger-ms": str(i % 4)})
                first = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**kwargs) if c.choices)
                second = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**kwargs) if c.choices)
                same += first == second == f"Mock answer to: pair {i}"
            print(json.dumps({"same": same}))
            """
            let result = try XCTUnwrap(try PythonClient.run(script, baseURL: proxy.baseURL, timeout: 120) as? [String: Int])
            XCTAssertEqual(result["same"], pairs)
            XCTAssertEqual(proxy.mock.requestCount(path: Self.chat), pairs)
        }
    }

    /// Every path that drops an upstream response ends its count once: after retried 500s,
    /// failures, and clients that left mid-stream, `in_flight` is back to 0.
    func testPoolInFlightReturnsToZeroAfterRetriesFailuresAndCancelledClients() async throws {
        try await withProxy(configure: {
            $0.providers["openai"]!.maxRetries = 2
            $0.providers["openai"]!.breaker.failureThreshold = 100
        }) { proxy in
            for i in 0..<3 {
                proxy.mock.enqueue(.status(500), times: 3)
                let reply = try await proxy.chat("failing \(i)")
                XCTAssertEqual(reply.status, 500)
            }
            proxy.mock.enqueue(.resetMidBody)
            _ = try? await proxy.chat("reset", stream: true)
            // Clients that go away while a slow stream is relayed.
            let port = proxy.port
            for i in 0..<3 {
                try await onThread {
                    let connection = try RawHTTPConnection(port: port)
                    let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"leaving \#(i)"}]}"#
                    _ = connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\nx-mock-chunk-delay-ms: 200\r\nx-mock-chunks: 20\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
                    _ = connection.readResponse(deadline: .now + .seconds(5), bodyless: true)
                    connection.close()
                }
            }
            let drained = try await eventually(10) {
                try await proxy.stats()["providers"]?["openai"]?["pool"]?["in_flight"]?.intValue == 0
            }
            let pool = try await proxy.stats()["providers"]?["openai"]?["pool"]
            XCTAssertTrue(drained, "in_flight stayed at \(pool?["in_flight"]?.intValue ?? -1)")
        }
    }
}
