import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// The `[server]` limits, each configurable and each enforced on a real socket: body and header
/// size, request and idle timeouts, concurrent connections.
final class LimitsTests: XCTestCase {
    static func request(_ method: String = "POST", _ path: String = "/v1/chat/completions", headers: [(String, String)] = [],
                        body: String? = nil) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + (body ?? "")
    }

    static func chatBody(_ text: String, padding: Int = 0) -> String {
        #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(text)"}],"user":"\#(String(repeating: "p", count: padding))"}"#
    }

    static func deadline(_ seconds: Double) -> ContinuousClock.Instant { .now + .milliseconds(Int(seconds * 1000)) }

    static func assertOpenAIError(_ outcome: RawHTTPConnection.Outcome, status: Int, file: StaticString = #filePath, line: UInt = #line) {
        guard case .response(let response) = outcome else { return XCTFail("no response: \(outcome)", file: file, line: line) }
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        let json = try? JSONParser.parse(response.body)
        XCTAssertNotNil(json?["error"]?["message"]?.stringValue, response.text, file: file, line: line)
        XCTAssertNotNil(json?["error"]?["type"]?.stringValue, response.text, file: file, line: line)
    }

    // MARK: sizes

    func testBodyOverMaxBodyBytesIs413AndTheConnectionStaysUsable() async throws {
        try await withProxy(configure: { $0.server.maxBodyBytes = 2048 }) { proxy in
            let port = proxy.port
            let (tooLarge, chunked, passThrough, after, atLimit) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                connection.send(Self.request(body: Self.chatBody("too big", padding: 5000)))
                let tooLarge = connection.readResponse(deadline: Self.deadline(10))
                // Chunked, so no Content-Length announces it: the limit holds as the bytes arrive.
                let piece = String(repeating: "x", count: 1000)
                var chunkedRequest = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                for _ in 0..<4 { chunkedRequest += "3e8\r\n\(piece)\r\n" }
                connection.send(chunkedRequest + "0\r\n\r\n")
                let chunked = connection.readResponse(deadline: Self.deadline(10))
                // Pass-through requests (file uploads and the like) are bounded the same way.
                connection.send(Self.request("PUT", "/v1/files/upload", body: String(repeating: "u", count: 5000)))
                let passThrough = connection.readResponse(deadline: Self.deadline(10))
                connection.send(Self.request(body: Self.chatBody("small enough")))
                let after = connection.readResponse(deadline: Self.deadline(10))
                let exact = Self.chatBody("at the limit", padding: 2048 - Self.chatBody("at the limit").utf8.count)
                connection.send(Self.request(body: exact))
                let atLimit = connection.readResponse(deadline: Self.deadline(10))
                return (tooLarge, chunked, passThrough, after, atLimit)
            }
            Self.assertOpenAIError(tooLarge, status: 413)
            Self.assertOpenAIError(chunked, status: 413)
            Self.assertOpenAIError(passThrough, status: 413)
            guard case .response(let ok) = after, case .response(let exact) = atLimit else {
                return XCTFail("the connection was not kept after a 413: \(after), \(atLimit)")
            }
            XCTAssertEqual(ok.status, 200, ok.text)
            XCTAssertEqual(exact.status, 200, "a body of exactly max_body_bytes is accepted: \(exact.text)")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2, "refused bodies never went upstream")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/files/upload"), 0)
        }
    }

    func testHeadersOverMaxHeaderBytesAreRefusedAndTheConnectionClosed() async throws {
        try await withProxy(configure: { $0.server.maxHeaderBytes = 4096 }) { proxy in
            let port = proxy.port
            let outcomes = try await onThread {
                var outcomes: [(String, RawHTTPConnection.Outcome, Bool)] = []
                let cases: [(String, [(String, String)])] = [
                    ("one long field", [("x-long", String(repeating: "a", count: 8000))]),
                    ("many fields", (0..<100).map { ("x-field-\($0)", String(repeating: "b", count: 60)) }),
                ]
                for (name, headers) in cases {
                    let connection = try RawHTTPConnection(port: port)
                    connection.send(Self.request(headers: headers, body: Self.chatBody("headers")))
                    let outcome = connection.readResponse(deadline: Self.deadline(10))
                    outcomes.append((name, outcome, connection.waitForClose(deadline: Self.deadline(10))))
                }
                let connection = try RawHTTPConnection(port: port)
                connection.send(Self.request(headers: [("x-long", String(repeating: "c", count: 3000))], body: Self.chatBody("headers")))
                outcomes.append(("under the limit", connection.readResponse(deadline: Self.deadline(10)), false))
                return outcomes
            }
            for (name, outcome, closed) in outcomes.prefix(2) {
                // Hummingbird's HTTP parser stops at the limit: a bare 400 with `Connection: close`.
                switch outcome {
                case .response(let response):
                    XCTAssertTrue([400, 431].contains(response.status), "\(name): \(response.status)")
                    XCTAssertTrue(response.closesConnection, name)
                case .closed: break
                case .timedOut: XCTFail("\(name): neither answered nor closed")
                }
                XCTAssertTrue(closed, "\(name): the connection is closed")
            }
            guard case .response(let fine) = outcomes[2].1 else { return XCTFail("\(outcomes[2].1)") }
            XCTAssertEqual(fine.status, 200, fine.text)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    // MARK: time

    func testRequestTimeoutAnswers504WithinTheDeadlineWhateverTheProviderTimeout() async throws {
        try await withProxy(configure: { config in
            config.server.requestTimeoutMs = 600
            config.providers["openai"]!.timeoutMs = 600_000
            config.providers["openai"]!.retryOnTimeout = true  // retries cannot stretch the deadline either
        }) { proxy in
            let started = ContinuousClock.now
            let reply = try await proxy.chat("stalled for good", headers: [("x-mock-stall", "1")])
            let elapsed = ContinuousClock.now - started
            XCTAssertEqual(reply.status, 504, reply.body)
            XCTAssertEqual(reply.json?["error"]?["code"]?.stringValue, "upstream_timeout")
            XCTAssertLessThan(elapsed, .seconds(5), "the 600 ms request deadline, not the 600 s provider timeout or the mock's 120 s stall")
            let fresh = try await proxy.chat("stalled for good")
            XCTAssertEqual(fresh.cache, "MISS", "a timed-out request stored nothing")
        }
    }

    func testIdleKeepAliveConnectionIsClosedButABusyOneIsNot() async throws {
        try await withProxy(configure: { $0.server.idleTimeoutS = 1 }) { proxy in
            let port = proxy.port
            let (first, second, slow, closed, idleFor) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                connection.send(Self.request("GET", "/healthz"))
                let first = connection.readResponse(deadline: Self.deadline(5))
                connection.send(Self.request("GET", "/healthz"))
                let second = connection.readResponse(deadline: Self.deadline(5))
                // A stream that takes longer than the idle timeout is not cut: the connection is busy.
                let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"slow"}]}"#
                connection.send(Self.request(headers: [("x-mock-chunks", "5"), ("x-mock-chunk-delay-ms", "400")], body: body))
                let slow = connection.readResponse(deadline: Self.deadline(10))
                let idleSince = ContinuousClock.now
                let closed = connection.waitForClose(deadline: Self.deadline(10))
                return (first, second, slow, closed, ContinuousClock.now - idleSince)
            }
            for outcome in [first, second] {
                guard case .response(let response) = outcome else { return XCTFail("keep-alive request not answered: \(outcome)") }
                XCTAssertEqual(response.status, 200)
            }
            guard case .response(let streamed) = slow else { return XCTFail("the slow stream was cut: \(slow)") }
            XCTAssertTrue(streamed.text.hasSuffix("data: [DONE]\n\n"), streamed.text)
            XCTAssertTrue(closed, "Parrot closes a keep-alive connection idle for idle_timeout_s")
            XCTAssertLessThan(idleFor, .seconds(5))
        }
    }

    func testPartialRequestTrickledSlowlyIsClosedAfterTheIdleTimeout() async throws {
        try await withProxy(configure: { $0.server.idleTimeoutS = 1 }) { proxy in
            let port = proxy.port
            let (closed, elapsed) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                let started = ContinuousClock.now
                let head = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".utf8)
                var index = 0
                // One byte every 100 ms, a request head that never ends (slowloris).
                while ContinuousClock.now - started < .seconds(8) {
                    if !connection.send([head[index % head.count]]) { break }
                    index += 1
                    if connection.waitForClose(deadline: Self.deadline(0.1)) { break }
                }
                return (connection.waitForClose(deadline: Self.deadline(0.5)), ContinuousClock.now - started)
            }
            XCTAssertTrue(closed, "a request head trickled byte by byte must not hold a connection forever")
            XCTAssertLessThan(elapsed, .seconds(6))
        }
    }

    // MARK: connections

    func testPastMaxConnectionsClientsAreToldAtOnceAndServedAgainWhenASlotFrees() async throws {
        try await withProxy(configure: { config in
            config.server.maxConnections = 2
            config.server.idleTimeoutS = 60
        }) { proxy in
            let port = proxy.port
            let (a, b, refused, served) = try await onThread {
                let first = try RawHTTPConnection(port: port)
                first.send(Self.request("GET", "/healthz"))
                let a = first.readResponse(deadline: Self.deadline(5))
                let second = try RawHTTPConnection(port: port)
                second.send(Self.request("GET", "/healthz"))
                let b = second.readResponse(deadline: Self.deadline(5))
                // A third client gets a 503 it can retry on, not a silent wait.
                let third = try RawHTTPConnection(port: port)
                third.send(Self.request(body: Self.chatBody("one too many")))
                let refused = third.readResponse(deadline: Self.deadline(5))
                first.close()
                // Parrot sees the close a moment later: poll until a new client is served.
                var served = RawHTTPConnection.Outcome.timedOut
                let until = Self.deadline(10)
                while ContinuousClock.now < until {
                    let next = try RawHTTPConnection(port: port)
                    next.send(Self.request(body: Self.chatBody("a slot is free")))
                    served = next.readResponse(deadline: Self.deadline(5))
                    if case .response(let response) = served, response.status == 200 { break }
                    usleep(20_000)
                }
                second.close()
                return (a, b, refused, served)
            }
            for outcome in [a, b] {
                guard case .response(let response) = outcome else { return XCTFail("\(outcome)") }
                XCTAssertEqual(response.status, 200)
            }
            Self.assertOpenAIError(refused, status: 503)
            if case .response(let response) = refused {
                XCTAssertTrue(response.text.contains("too_many_connections"), response.text)
                XCTAssertTrue(response.closesConnection)
                XCTAssertNotNil(response.header("retry-after"))
            }
            guard case .response(let response) = served else { return XCTFail("no client was served once a slot freed: \(served)") }
            XCTAssertEqual(response.status, 200, response.text)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1, "the refused request never went upstream")
        }
    }
}
