import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParrotCore
import ParrotMock
import XCTest

/// Parrot as a plain forward proxy: what goes through must come back as the provider sent it.
final class ForwardingTests: XCTestCase {
    func testJSONAnswerPassesThroughByteForByteWithItsHeaders() async throws {
        try await withProxy { proxy in
            let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"exact bytes"}]}"#
            let viaParrot = try await proxy.send(.POST, "/v1/chat/completions", body: body, headers: [("cache-control", "no-store")])
            // Ask the mock directly for the same answer: the mock numbers its ids, so compare shapes.
            var direct = HTTPClientRequest(url: proxy.mock.baseURL + "/chat/completions")
            direct.method = .POST
            direct.body = .bytes(ByteBuffer(string: body))
            let directResponse = try await HTTPClient.shared.execute(direct, timeout: .seconds(10))
            let directBody = String(buffer: try await directResponse.body.collect(upTo: 1 << 20))
            XCTAssertEqual(viaParrot.status, 200)
            XCTAssertEqual(viaParrot.header("content-type"), directResponse.headers.first(name: "content-type"))
            XCTAssertEqual(viaParrot.body.replacingOccurrences(of: #"chatcmpl-\d+"#, with: "ID", options: .regularExpression)
                               .replacingOccurrences(of: #""created":\d+"#, with: "T", options: .regularExpression),
                           directBody.replacingOccurrences(of: #"chatcmpl-\d+"#, with: "ID", options: .regularExpression)
                               .replacingOccurrences(of: #""created":\d+"#, with: "T", options: .regularExpression))
            for name in ["x-request-id", "openai-version", "openai-organization", "openai-processing-ms",
                         "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"] {
                XCTAssertNotNil(viaParrot.header(name), name)
            }
            // What reached the mock is the client's request, minus Parrot's own controls.
            let recorded = try XCTUnwrap(proxy.mock.recordedRequests.first)
            XCTAssertEqual(recorded.bodyText, body)
            XCTAssertNil(recorded.header("cache-control"))
            XCTAssertEqual(recorded.header("accept-encoding"), "gzip")
        }
    }

    func testRetryAfterIsRelayedFromTheProvider() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxRetries = 0 }) { proxy in
            let reply = try await proxy.chat("limited", headers: [("x-mock-status", "429"), ("x-mock-retry-after", "7")])
            XCTAssertEqual(reply.status, 429)
            XCTAssertEqual(reply.header("retry-after"), "7")
            XCTAssertNotNil(reply.json?["error"]?["message"])
        }
    }

    func testStreamChunksArriveBeforeTheStreamEnds() async throws {
        try await withProxy { proxy in
            var request = HTTPClientRequest(url: proxy.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "x-mock-chunk-delay-ms", value: "150")
            request.headers.add(name: "x-mock-chunks", value: "6")
            request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"drip"}]}"#))
            let started = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            var arrivals: [Duration] = []
            var text = ""
            for try await chunk in response.body {
                arrivals.append(ContinuousClock.now - started)
                text += String(buffer: chunk)
            }
            XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"))
            let first = try XCTUnwrap(arrivals.first)
            let last = try XCTUnwrap(arrivals.last)
            XCTAssertGreaterThan(arrivals.count, 3, "relayed in pieces, not buffered")
            XCTAssertGreaterThan(last - first, .milliseconds(500), "the first chunk came well before the last was sent")
        }
    }

    func testClientDisconnectCancelsTheUpstreamCall() async throws {
        try await withProxy { proxy in
            var request = HTTPClientRequest(url: proxy.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "x-mock-chunk-delay-ms", value: "200")
            request.headers.add(name: "x-mock-chunks", value: "50")
            request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"leave early"}]}"#))
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                let response = try await client.execute(request, timeout: .seconds(20))
                var iterator = response.body.makeAsyncIterator()
                _ = try await iterator.next()
            } catch {}
            try await client.shutdown()  // closes the connection mid-stream
            let cancelled = try await eventually(5) {
                let stats = try await proxy.stats()
                return stats["providers"]?["openai"]?["pool"]?["in_flight"]?.intValue == 0
            }
            XCTAssertTrue(cancelled, "the upstream request ended when the only client left")
            let again = try await proxy.chat("leave early", stream: true)
            XCTAssertEqual(again.cache, "MISS", "an abandoned stream is never stored")
        }
    }

    func testConfiguredKeyIsInjectedElseTheClientsIsForwarded() async throws {
        try await withProxy { proxy in
            _ = try await proxy.chat("whose key", headers: [("authorization", "Bearer sk-client"), ("cache-control", "no-store")])
            XCTAssertEqual(proxy.mock.recordedRequests.last?.header("authorization"), "Bearer sk-client")
        }
        try await withProxy(secrets: Secrets(providerKeys: ["openai": "sk-configured"])) { proxy in
            _ = try await proxy.chat("whose key", headers: [("authorization", "Bearer sk-client"), ("cache-control", "no-store")])
            XCTAssertEqual(proxy.mock.recordedRequests.last?.header("authorization"), "Bearer sk-configured")
            XCTAssertFalse(proxy.logs.all.joined().contains("sk-configured"))
            XCTAssertFalse(proxy.logs.all.joined().contains("sk-client"))
        }
    }

    func testOtherV1PathsAndMethodsAreForwardedUnchanged() async throws {
        try await withProxy { proxy in
            let models = try await proxy.send(.GET, "/v1/models")
            XCTAssertEqual(models.status, 200)
            XCTAssertEqual(models.json?["object"]?.stringValue, "list")
            XCTAssertNil(models.cache)
            let echo = try await proxy.send(.DELETE, "/v1/files/file-123?purpose=x")
            XCTAssertEqual(echo.json?["method"]?.stringValue, "DELETE")
            XCTAssertEqual(echo.json?["path"]?.stringValue, "/v1/files/file-123")
            XCTAssertEqual(echo.json?["query"]?.stringValue, "purpose=x")
            let upload = try await proxy.send(.POST, "/v1/files", body: String(repeating: "x", count: 100_000))
            XCTAssertEqual(upload.json?["body_bytes"]?.intValue, 100_000)
        }
    }

    func testParrotsOwnErrorsAreOpenAIShapedWithTheRightStatus() async throws {
        try await withProxy(configure: { $0.server.maxBodyBytes = 1000 }) { proxy in
            func check(_ reply: TestProxy.Reply, _ status: Int, _ line: UInt = #line) {
                XCTAssertEqual(reply.status, status, reply.body, line: line)
                let error = reply.json?["error"]
                XCTAssertNotNil(error?["message"]?.stringValue, reply.body, line: line)
                XCTAssertNotNil(error?["type"]?.stringValue, reply.body, line: line)
                XCTAssertNotNil(error?["code"], reply.body, line: line)
                XCTAssertEqual(error?["param"] != nil, true, reply.body, line: line)
                XCTAssertEqual(reply.header("content-type"), "application/json", line: line)
            }
            let notJSON = try await proxy.send(.POST, "/v1/chat/completions", body: "{not json")
            check(notJSON, 400)
            let notAnObject = try await proxy.send(.POST, "/v1/chat/completions", body: "[1,2]")
            check(notAnObject, 400)
            let numericModel = try await proxy.send(.POST, "/v1/chat/completions", body: #"{"model":5}"#)
            check(numericModel, 400)
            let oversized = try await proxy.send(.POST, "/v1/chat/completions", body: #"{"model":"m","messages":[],"x":""# + String(repeating: "a", count: 2000) + #""}"#)
            check(oversized, 413)
            let unknownPath = try await proxy.send(.GET, "/nope")
            check(unknownPath, 404)
            let badHeader = try await proxy.chat("bad header", headers: [("x-parrot-ttl", "-1")])
            check(badHeader, 400)
            let wrongMethod = try await proxy.send(.PUT, "/stats")
            check(wrongMethod, 405)
        }
    }

    func testUnreachableAndSlowProvidersGive502And504() async throws {
        try await withProxy(configure: {
            $0.providers["openai"]!.baseURL = "http://127.0.0.1:9/v1"
            $0.providers["openai"]!.maxRetries = 0
        }) { proxy in
            let reply = try await proxy.chat("nobody home")
            XCTAssertEqual(reply.status, 502)
            XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "upstream_unreachable")
        }
        try await withProxy(configure: {
            $0.providers["openai"]!.timeoutMs = 300
            $0.providers["openai"]!.maxRetries = 0
        }) { proxy in
            let reply = try await proxy.chat("stalled", headers: [("x-mock-stall", "1")])
            XCTAssertEqual(reply.status, 504)
            XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "upstream_timeout")
        }
    }

    func testSequentialRequestsReuseKeepAliveConnections() async throws {
        try await withProxy(configure: { $0.providers["openai"]!.maxConnections = 2 }) { proxy in
            for i in 0..<20 {
                let reply = try await proxy.chat("keep alive \(i)")
                XCTAssertEqual(reply.status, 200)
            }
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 20)
            XCTAssertLessThanOrEqual(proxy.mock.connectionsOpened, 2)
        }
    }

    func testHealthAndReadiness() async throws {
        try await withProxy { proxy in
            let health = try await proxy.send(.GET, "/healthz")
            XCTAssertEqual(health.status, 200)
            let ready = try await proxy.send(.GET, "/readyz")
            XCTAssertEqual(ready.status, 200)
            XCTAssertEqual(ready.json?["store"]?.stringValue, "ok")
        }
    }

    func testClientTokensAreRequiredWhenConfigured() async throws {
        try await withProxy(secrets: Secrets(clientTokens: ["team-token"])) { proxy in
            let denied = try await proxy.chat("who are you")
            XCTAssertEqual(denied.status, 401)
            XCTAssertEqual(proxy.mock.totalRequests, 0)
            let allowed = try await proxy.chat("who are you", headers: [("x-parrot-token", "team-token")])
            XCTAssertEqual(allowed.status, 200)
            let bearer = try await proxy.chat("who are you", headers: [("authorization", "Bearer team-token")])
            XCTAssertEqual(bearer.status, 200)
        }
    }
}
