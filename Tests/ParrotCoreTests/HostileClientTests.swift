import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// DESIGN.md "Hostile clients and web pages", the parts of the HTTP exchange a client without a
/// browser can abuse: broken HTTP/1.1 framing, methods and paths that mean something else
/// further along, heads that never end, connection floods. Each on a real socket.
final class HostileClientTests: XCTestCase {
    static func deadline(_ seconds: Double) -> ContinuousClock.Instant { .now + .milliseconds(Int(seconds * 1000)) }

    static func chatBody(_ text: String, model: String = "gpt-4o-mini") -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(text)"}]}"#
    }

    /// A request with exactly the head lines given (no Host added).
    static func raw(_ method: String, _ path: String, lines: [String] = ["Host: localhost"], body: String? = nil) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for line in lines { text += line + "\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + (body ?? "")
    }

    /// Each request on its own connection; the outcome of each.
    static func exchange(_ requests: [String], port: Int) async throws -> [RawHTTPConnection.Outcome] {
        try await onThread {
            try requests.map { request in
                let connection = try RawHTTPConnection(port: port)
                connection.send(request)
                return connection.readResponse(deadline: Self.deadline(10), bodyless: request.hasPrefix("HEAD "))
            }
        }
    }

    static func assertError(_ outcome: RawHTTPConnection.Outcome, status: Int, code: String? = nil, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        guard case .response(let response) = outcome else { return XCTFail("\(what): no response: \(outcome)", file: file, line: line) }
        XCTAssertEqual(response.status, status, "\(what): \(response.text)", file: file, line: line)
        let json = try? JSONParser.parse(response.body)
        XCTAssertNotNil(json?["error"]?["message"]?.stringValue, "\(what): not OpenAI-shaped: \(response.text)", file: file, line: line)
        if let code { XCTAssertEqual(json?["error"]?["code"]?.stringValue, code, what, file: file, line: line) }
    }

    // MARK: HTTP/1.1 framing (issue #18 item 9)

    func testRequestWithoutHostOrWithTwoHostsIs400() async throws {
        try await withProxy { proxy in
            let body = Self.chatBody("host hygiene")
            let outcomes = try await Self.exchange([
                Self.raw("POST", "/v1/chat/completions", lines: [], body: body),
                Self.raw("POST", "/v1/chat/completions", lines: ["Host: localhost", "Host: evil.example"], body: body),
                Self.raw("GET", "/stats", lines: ["Host: 127.0.0.1", "Host: 127.0.0.1"]),
                Self.raw("POST", "/v1/chat/completions", body: body),
            ], port: proxy.port)
            Self.assertError(outcomes[0], status: 400, "no Host")
            Self.assertError(outcomes[1], status: 400, "two Hosts")
            Self.assertError(outcomes[2], status: 400, "two equal Hosts")
            guard case .response(let ok) = outcomes[3] else { return XCTFail("\(outcomes[3])") }
            XCTAssertEqual(ok.status, 200, ok.text)
            XCTAssertEqual(proxy.mock.totalRequests, 1, "only the well-formed request reached the provider")
        }
    }

    // MARK: methods and paths (item 4)

    func testTraceTrackAndConnectAre405AndNeverForwarded() async throws {
        try await withProxy { proxy in
            let outcomes = try await Self.exchange([
                Self.raw("TRACE", "/v1/models"),
                Self.raw("TRACK", "/v1/models"),
                Self.raw("CONNECT", "api.openai.com:443", lines: ["Host: api.openai.com:443"]),
                Self.raw("CONNECT", "localhost:443"),
                Self.raw("TRACE", "/"),
            ], port: proxy.port)
            for (outcome, what) in [(outcomes[0], "TRACE"), (outcomes[1], "TRACK"), (outcomes[4], "TRACE /")] {
                Self.assertError(outcome, status: 405, code: "method_not_allowed", what)
            }
            // SwiftNIO sends no body in any answer to CONNECT, so these are the status alone. A
            // CONNECT naming another host fails the Host check first; either way, no tunnel.
            for (outcome, status) in [(outcomes[2], 421), (outcomes[3], 405)] {
                guard case .response(let response) = outcome else { return XCTFail("CONNECT: \(outcome)") }
                XCTAssertEqual(response.status, status, response.text)
                XCTAssertTrue(response.closesConnection, "nothing follows a CONNECT on its connection")
            }
            XCTAssertEqual(proxy.mock.totalRequests, 0)
        }
    }

    func testDotSegmentsAndEncodedSlashesAre400AndNeverForwarded() async throws {
        try await withProxy { proxy in
            let paths = [
                "/v1/./models", "/v1/../v1/models", "/v1/models/..", "/v1/models/.", "/v1/%2e%2e/stats", "/v1/%2E/models",
                "/v1/.%2e/models", "/v1/%2e./models?x=1", "/v1/files%2fsecret", "/v1/files%2Fsecret", "/v1/files/%5c..%5cx",
                "/../v1/models", "/v1/chat/completions/../../stats",
            ]
            let outcomes = try await Self.exchange(paths.map { Self.raw("GET", $0) }, port: proxy.port)
            for (outcome, path) in zip(outcomes, paths) { Self.assertError(outcome, status: 400, path) }
            // Dots inside a segment are ordinary characters.
            let fine = try await Self.exchange([Self.raw("GET", "/v1/files/file-1.2.jsonl"), Self.raw("GET", "/v1/models/gpt-4.1...x")],
                                               port: proxy.port)
            for outcome in fine {
                guard case .response(let response) = outcome else { return XCTFail("\(outcome)") }
                XCTAssertEqual(response.status, 200, response.text)
            }
            XCTAssertEqual(proxy.mock.totalRequests, 2, "only the two ordinary paths were forwarded")
        }
    }

    // MARK: connection exhaustion (item 5)

    func testConnectionWithoutACompleteHeadIsClosedAfterHeaderTimeout() async throws {
        try await withProxy(configure: { config in
            config.server.headerTimeoutS = 1
            config.server.idleTimeoutS = 60
        }) { proxy in
            let port = proxy.port
            let (silent, partial, slowAnswer, keptAlive, secondPartial) = try await onThread {
                let silent = try RawHTTPConnection(port: port)
                let partial = try RawHTTPConnection(port: port)
                partial.send("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: app")
                // A complete head is not held to the header deadline, however slow the answer.
                let slow = try RawHTTPConnection(port: port)
                let body = Self.chatBody("slow upstream")
                slow.send(Self.raw("POST", "/v1/chat/completions", lines: ["Host: localhost", "X-Mock-Delay-Ms: 1500"], body: body))
                let silentClosed = silent.waitForClose(deadline: Self.deadline(5))
                let partialClosed = partial.waitForClose(deadline: Self.deadline(5))
                let slowAnswer = slow.readResponse(deadline: Self.deadline(10))
                // Between requests the idle timeout (60 s) applies, not the header timeout...
                let keptAlive = !slow.waitForClose(deadline: Self.deadline(2))
                // ...until the next request begins and does not finish its head.
                slow.send("GET /healthz HTTP/1.1\r\nHost: loc")
                let secondPartial = slow.waitForClose(deadline: Self.deadline(5))
                return (silentClosed, partialClosed, slowAnswer, keptAlive, secondPartial)
            }
            XCTAssertTrue(silent, "a connection that sends nothing is closed after header_timeout_s")
            XCTAssertTrue(partial, "a head that never ends is closed after header_timeout_s")
            guard case .response(let response) = slowAnswer else { return XCTFail("the slow answer was cut: \(slowAnswer)") }
            XCTAssertEqual(response.status, 200, response.text)
            XCTAssertTrue(keptAlive, "an idle keep-alive connection is governed by idle_timeout_s")
            XCTAssertTrue(secondPartial, "the next request's head has header_timeout_s too")
        }
    }

    func testHealthProbesAreAnsweredWhileMaxConnectionsAreHeld() async throws {
        try await withProxy(configure: { config in
            config.server.maxConnections = 8
            config.server.idleTimeoutS = 60
            config.server.headerTimeoutS = 60
        }) { proxy in
            let port = proxy.port
            let (held, health, ready, head, client, afterProbe) = try await onThread {
                // Eight clients take every slot and keep their connections open.
                var held: [RawHTTPConnection] = []
                var answered = 0
                for _ in 0..<8 {
                    let connection = try RawHTTPConnection(port: port)
                    connection.send(Self.raw("GET", "/healthz"))
                    if case .response(let r) = connection.readResponse(deadline: Self.deadline(5)), r.status == 200 { answered += 1 }
                    held.append(connection)
                }
                let probe = { (request: String) throws -> RawHTTPConnection.Outcome in
                    let connection = try RawHTTPConnection(port: port)
                    connection.send(request)
                    return connection.readResponse(deadline: Self.deadline(5), bodyless: request.hasPrefix("HEAD "))
                }
                let health = try probe(Self.raw("GET", "/healthz"))
                let ready = try probe(Self.raw("GET", "/readyz"))
                let head = try probe(Self.raw("HEAD", "/healthz"))
                let client = try probe(Self.raw("POST", "/v1/chat/completions", body: Self.chatBody("no slot")))
                // A probe connection answers one probe, then closes; a request pipelined behind
                // it gets nothing, and never overtakes the probe's answer.
                let twice = try RawHTTPConnection(port: port)
                twice.send(Self.raw("GET", "/readyz") + Self.raw("POST", "/v1/chat/completions", body: Self.chatBody("pipelined")))
                let first = twice.readResponse(deadline: Self.deadline(5))
                let afterProbe = twice.waitForClose(deadline: Self.deadline(5))
                return (answered, health, ready, head, client, (first, afterProbe))
            }
            XCTAssertEqual(held, 8)
            for (outcome, what) in [(health, "/healthz"), (ready, "/readyz"), (head, "HEAD /healthz")] {
                guard case .response(let response) = outcome else { return XCTFail("\(what) unanswered with max_connections held: \(outcome)") }
                XCTAssertEqual(response.status, 200, "\(what): \(response.text)")
                XCTAssertTrue(response.closesConnection, what)
            }
            Self.assertError(client, status: 503, code: "too_many_connections", "a client past max_connections")
            guard case .response(let first) = afterProbe.0 else { return XCTFail("pipelined probe: \(afterProbe.0)") }
            XCTAssertEqual(first.status, 200, first.text)
            XCTAssertTrue(afterProbe.1, "a probe connection closes after its answer")
            XCTAssertEqual(proxy.mock.totalRequests, 0)
        }
    }
}
