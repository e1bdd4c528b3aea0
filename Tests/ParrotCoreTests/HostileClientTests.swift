import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// DESIGN.md "Hostile clients and web pages", the parts of the HTTP exchange a client without a
/// browser can abuse: broken HTTP/1.1 framing, methods and paths that mean something else
/// further along. Each on a real socket.
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

    func testTraceIs405AndNeverForwarded() async throws {
        try await withProxy { proxy in
            let outcomes = try await Self.exchange([Self.raw("TRACE", "/v1/models"), Self.raw("TRACE", "/")], port: proxy.port)
            for (outcome, what) in zip(outcomes, ["TRACE", "TRACE /"]) {
                Self.assertError(outcome, status: 405, code: "method_not_allowed", what)
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
}
