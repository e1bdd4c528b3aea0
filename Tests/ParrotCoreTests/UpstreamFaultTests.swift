import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
@testable import ParrotCore
import ParrotMock
import XCTest

/// Every way a provider can fail: each gives the client a clear error (or the part of a stream
/// that was relayed before the fault), is never cached, and is counted by the breaker as
/// DESIGN.md says (5xx, timeouts and connection errors are failures; an answer that arrived is not).
final class UpstreamFaultTests: XCTestCase {
    /// Retries off, so each request is exactly one upstream attempt and one breaker event.
    static func oneAttempt(_ config: inout ProxyConfig) {
        config.providers["openai"]!.maxRetries = 0
    }

    /// A client's view of one exchange, including a body that broke off.
    struct Fetched: Sendable {
        var status: Int?
        var headers = HTTPHeaders()
        var bytes: [UInt8] = []
        /// The response did not arrive whole: the connection was closed or reset mid-body.
        var cut = false

        var text: String { String(decoding: bytes, as: UTF8.self) }
        var cache: String? { headers.first(name: "x-parrot-cache") }
        var json: JSONValue? { try? JSONParser.parse(bytes) }
    }

    static func fetch(_ proxy: TestProxy, _ text: String, stream: Bool = false, headers: [(String, String)] = []) async -> Fetched {
        var request = HTTPClientRequest(url: proxy.baseURL + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string:
            #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(text)"}]\#(stream ? #","stream":true"# : "")}"#))
        var fetched = Fetched()
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            fetched.cut = true
            return fetched
        }
        fetched.status = Int(response.status.code)
        fetched.headers = response.headers
        do {
            for try await chunk in response.body { fetched.bytes += chunk.readableBytesView }
        } catch {
            fetched.cut = true
        }
        return fetched
    }

    struct Breaker: Equatable {
        var errors: Int
        var failures: Int
        var state: String
    }

    static func breaker(_ proxy: TestProxy) async throws -> Breaker {
        let openai = try await proxy.stats()["providers"]?["openai"]
        return Breaker(errors: openai?["errors"]?.intValue ?? -1, failures: openai?["breaker"]?["failures"]?.intValue ?? -1,
                       state: openai?["breaker"]?["state"]?.stringValue ?? "?")
    }

    /// Asking again without the fault goes upstream (nothing of the faulty answer was kept),
    /// and only that fresh, whole answer ends up in the store.
    func assertNotCached(_ proxy: TestProxy, _ text: String, stream: Bool = false, headers: [(String, String)] = [],
                         file: StaticString = #filePath, line: UInt = #line) async throws {
        let before = proxy.mock.requestCount(path: "/v1/chat/completions")
        let again = try await proxy.chat(text, stream: stream, headers: headers)
        XCTAssertEqual(again.status, 200, again.body, file: file, line: line)
        XCTAssertEqual(again.cache, "MISS", "the faulty answer was served from the cache", file: file, line: line)
        XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), before + 1, file: file, line: line)
        let stored = try await eventually { try await proxy.stats()["cache"]?["entries"] == .int(1) }
        XCTAssertTrue(stored, "the fresh answer, and only it, is stored", file: file, line: line)
        let hit = try await proxy.chat(text, stream: stream, headers: headers)
        XCTAssertEqual(hit.cache, "HIT", file: file, line: line)
        XCTAssertEqual(hit.body, again.body, "the stored answer is the fresh one", file: file, line: line)
    }

    static func assertOpenAIError(_ fetched: Fetched, status: Int, code: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(fetched.status, status, fetched.text, file: file, line: line)
        XCTAssertFalse(fetched.cut, file: file, line: line)
        XCTAssertEqual(fetched.json?["error"]?["code"]?.stringValue, code, fetched.text, file: file, line: line)
        XCTAssertNotNil(fetched.json?["error"]?["message"]?.stringValue, file: file, line: line)
        XCTAssertEqual(fetched.headers.first(name: "content-type"), "application/json", file: file, line: line)
    }

    // MARK: no answer at all

    func testConnectionRefusedIs502AndOpensTheBreakerAtItsThreshold() async throws {
        let closedPort = try freeLocalPort()
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.providers["openai"]!.baseURL = "http://127.0.0.1:\(closedPort)/v1"
            config.providers["openai"]!.breaker.failureThreshold = 2
            config.providers["openai"]!.breaker.openSeconds = 60
        }) { proxy in
            let started = ContinuousClock.now
            let first = await Self.fetch(proxy, "refused")
            Self.assertOpenAIError(first, status: 502, code: "upstream_unreachable")
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(3), "refused fails at once, not after connect_timeout_ms (5 s)")
            XCTAssertEqual(first.cache, "MISS")
            let firstBreaker = try await Self.breaker(proxy)
            XCTAssertEqual(firstBreaker, Breaker(errors: 1, failures: 1, state: "closed"))
            let second = await Self.fetch(proxy, "refused")
            Self.assertOpenAIError(second, status: 502, code: "upstream_unreachable")
            let secondBreaker = try await Self.breaker(proxy)
            XCTAssertEqual(secondBreaker, Breaker(errors: 2, failures: 2, state: "open"), "failure_threshold = 2")
            // Open: answered at once, without an attempt.
            let third = await Self.fetch(proxy, "refused")
            Self.assertOpenAIError(third, status: 503, code: "provider_unavailable")
            XCTAssertNotNil(third.headers.first(name: "retry-after"))
            let thirdBreaker = try await Self.breaker(proxy)
            XCTAssertEqual(thirdBreaker.errors, 2)
            let entries = try await proxy.stats()["cache"]?["entries"]
            XCTAssertEqual(entries, .int(0))
        }
    }

    func testConnectionClosedWithoutAnAnswerIs502AndNotCached() async throws {
        try await withProxy(configure: Self.oneAttempt) { proxy in
            let fetched = await Self.fetch(proxy, "closed on me", headers: [("x-mock-close", "1")])
            Self.assertOpenAIError(fetched, status: 502, code: "upstream_unreachable")
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 1, failures: 1, state: "closed"))
            try await assertNotCached(proxy, "closed on me")
        }
    }

    func testStallPastTheProviderTimeoutIs504AndNotCached() async throws {
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.providers["openai"]!.timeoutMs = 300
        }) { proxy in
            let started = ContinuousClock.now
            let fetched = await Self.fetch(proxy, "stalled", headers: [("x-mock-stall", "1")])
            Self.assertOpenAIError(fetched, status: 504, code: "upstream_timeout")
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(10), "answered near the timeout, not when the stall ends (120 s)")
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 1, failures: 1, state: "closed"))
            try await assertNotCached(proxy, "stalled")
        }
    }

    // MARK: an answer that breaks off

    func testResetMidBodyCutsTheClientAndStoresNothing() async throws {
        try await withProxy(configure: Self.oneAttempt) { proxy in
            // A plain answer is read whole before its head is relayed: the client gets an
            // OpenAI-shaped 502, never a 200 with half a body.
            let plain = await Self.fetch(proxy, "reset plain", headers: [("x-mock-reset", "1")])
            Self.assertOpenAIError(plain, status: 502, code: "upstream_unreachable")
            let firstBreaker = try await Self.breaker(proxy)
            XCTAssertEqual(firstBreaker, Breaker(errors: 1, failures: 1, state: "closed"), "a body that breaks is a failure")
            try await assertNotCached(proxy, "reset plain")
        }
        try await withProxy(configure: Self.oneAttempt) { proxy in
            let streamed = await Self.fetch(proxy, "reset stream", stream: true, headers: [("x-mock-reset", "1"), ("x-mock-chunks", "6"), ("x-mock-chunk-delay-ms", "50")])
            XCTAssertEqual(streamed.status, 200)
            XCTAssertTrue(streamed.cut)
            XCTAssertTrue(streamed.text.hasPrefix("data: {"), "the relayed part of the stream: \(streamed.text)")
            XCTAssertFalse(streamed.text.contains("[DONE]"))
            let secondBreaker = try await Self.breaker(proxy)
            XCTAssertEqual(secondBreaker, Breaker(errors: 1, failures: 1, state: "closed"))
            try await assertNotCached(proxy, "reset stream", stream: true)
        }
    }

    func testCutStreamIsRelayedAsFarAsItWentAndNeverCached() async throws {
        try await withProxy(configure: Self.oneAttempt) { proxy in
            // A raw socket shows exactly what reached the client before the connection ended.
            let port = proxy.port
            let (raw, closed) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"cut me"}]}"#
                connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                + "x-mock-cut-after: 2\r\nx-mock-chunks: 6\r\nx-mock-chunk-delay-ms: 100\r\n"
                                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
                return connection.readToClose(deadline: .now + .seconds(10))
            }
            let text = String(decoding: raw, as: UTF8.self)
            XCTAssertTrue(closed, "Parrot ends the connection so the client knows the stream was cut")
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
            XCTAssertTrue(text.lowercased().contains("x-parrot-cache: miss"), text)
            // The provider sent the role chunk and two content chunks, 100 ms apart, then cut. The
            // last one can be lost: the connection is closed as soon as the cut is known, which
            // drops a write NIO still holds; the client sees a cut stream either way.
            let relayed = text.components(separatedBy: #"data: {"id""#).count - 1
            XCTAssertTrue((2...3).contains(relayed), "\(relayed) chunks relayed: \(text)")
            XCTAssertFalse(text.contains("[DONE]"))
            XCTAssertFalse(text.hasSuffix("0\r\n\r\n"), "no chunked terminator: the stream must not look complete")
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 1, failures: 1, state: "closed"))
            try await assertNotCached(proxy, "cut me", stream: true)
        }
    }

    func testSlowDripPastTheTimeoutIsCutAndNeverCached() async throws {
        // `timeout_ms` bounds the wait for the head and then every gap between two reads: a
        // provider that pauses longer than that mid-answer is cut off.
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.providers["openai"]!.timeoutMs = 400
        }) { proxy in
            proxy.mock.enqueue(.slowDrip(chunkDelayMs: 1000))
            // A plain answer is read whole before its head is relayed: a 1 s pause with a 400 ms
            // timeout is an OpenAI-shaped 504, not a 200 cut short.
            let plain = await Self.fetch(proxy, "drip plain", headers: [("x-mock-chunks", "3")])
            Self.assertOpenAIError(plain, status: 504, code: "upstream_timeout")
            let streamed = await Self.fetch(proxy, "drip stream", stream: true,
                                            headers: [("x-mock-chunks", "3"), ("x-mock-chunk-delay-ms", "1000")])
            XCTAssertEqual(streamed.status, 200)
            XCTAssertTrue(streamed.cut)
            XCTAssertFalse(streamed.text.contains("[DONE]"))
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 2, failures: 2, state: "closed"))
            try await assertNotCached(proxy, "drip plain")
            let again = try await proxy.chat("drip stream", stream: true)
            XCTAssertEqual(again.cache, "MISS")
        }
    }

    func testAProviderThatCutsEveryStreamOpensTheBreakerAtItsThreshold() async throws {
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.providers["openai"]!.breaker.failureThreshold = 3
            config.providers["openai"]!.breaker.openSeconds = 60
        }) { proxy in
            for i in 0..<3 {
                let cut = await Self.fetch(proxy, "always cut \(i)", stream: true, headers: [("x-mock-cut-after", "1")])
                XCTAssertEqual(cut.status, 200, "each head arrives; each body breaks")
                XCTAssertTrue(cut.cut)
            }
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 3, failures: 3, state: "open"), "a head that arrived does not hide the body that broke")
            let refused = await Self.fetch(proxy, "always cut 4", stream: true)
            Self.assertOpenAIError(refused, status: 503, code: "provider_unavailable")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 3)
        }
    }

    func testSlowDripWithinTheTimeoutIsRelayedAsItComesAndCached() async throws {
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.providers["openai"]!.timeoutMs = 5000
        }) { proxy in
            let streamed = await Self.fetch(proxy, "patient", stream: true, headers: [("x-mock-chunks", "5"), ("x-mock-chunk-delay-ms", "80")])
            XCTAssertEqual(streamed.status, 200)
            XCTAssertFalse(streamed.cut)
            XCTAssertTrue(streamed.text.hasSuffix("data: [DONE]\n\n"))
            let hit = try await proxy.chat("patient", stream: true)
            XCTAssertEqual(hit.cache, "HIT")
            XCTAssertEqual(hit.bytes, streamed.bytes)
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 0, failures: 0, state: "closed"))
        }
    }

    // MARK: an answer that arrived but must not be kept

    func testInvalidJSONWith200IsRelayedAsSentButNeverCached() async throws {
        try await withProxy(configure: Self.oneAttempt) { proxy in
            let fetched = await Self.fetch(proxy, "garbled", headers: [("x-mock-invalid-json", "1")])
            XCTAssertEqual(fetched.status, 200)
            XCTAssertFalse(fetched.cut, "relayed whole, as the provider sent it")
            XCTAssertNil(fetched.json)
            XCTAssertTrue(fetched.text.hasPrefix(#"{"id":"chatcmpl-"#), fetched.text)
            // An answer did arrive: not a 5xx, timeout or connection error, so not a breaker failure.
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 0, failures: 0, state: "closed"))
            try await assertNotCached(proxy, "garbled")
        }
    }

    func testAnswerOverMaxEntryBytesIsRelayedWholeButNotStored() async throws {
        try await withProxy(configure: { config in
            Self.oneAttempt(&config)
            config.cache.maxEntryBytes = 64 * 1024
        }) { proxy in
            let size = [("x-mock-size", "400000")]
            let plain = await Self.fetch(proxy, "huge plain", headers: size)
            XCTAssertEqual(plain.status, 200)
            XCTAssertFalse(plain.cut)
            let content = plain.json?["choices"]?[0]?["message"]?["content"]?.stringValue ?? ""
            XCTAssertGreaterThanOrEqual(content.utf8.count, 400_000, "the whole answer reached the client")
            let streamed = await Self.fetch(proxy, "huge stream", stream: true, headers: size)
            XCTAssertFalse(streamed.cut)
            XCTAssertGreaterThan(streamed.bytes.count, 400_000)
            XCTAssertTrue(streamed.text.hasSuffix("data: [DONE]\n\n"))
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 0, failures: 0, state: "closed"))
            let again = try await proxy.chat("huge plain", headers: size)
            XCTAssertEqual(again.cache, "MISS")
            let againStream = try await proxy.chat("huge stream", stream: true, headers: size)
            XCTAssertEqual(againStream.cache, "MISS")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 4)
            let entries = try await proxy.stats()["cache"]?["entries"]
            XCTAssertEqual(entries, .int(0))
        }
    }

    func testUpstreamServerErrorIsRelayedCountedAndNotCached() async throws {
        try await withProxy(configure: Self.oneAttempt) { proxy in
            let fetched = await Self.fetch(proxy, "five hundred", headers: [("x-mock-status", "503")])
            XCTAssertEqual(fetched.status, 503)
            XCTAssertEqual(fetched.json?["error"]?["type"]?.stringValue.map { !$0.isEmpty }, true, fetched.text)
            let breaker = try await Self.breaker(proxy)
            XCTAssertEqual(breaker, Breaker(errors: 1, failures: 1, state: "closed"))
            try await assertNotCached(proxy, "five hundred")
        }
    }
}
