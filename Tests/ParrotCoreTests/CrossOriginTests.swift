import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// What a web page the developer has open can make Parrot do (DESIGN.md "Hostile clients and
/// web pages"). Each request carries exactly the headers a browser sends for it — `Host`,
/// `Origin`, `Sec-Fetch-*`, the content types an HTML form may use — on a real socket, and every
/// test checks the provider saw only what it should.
final class CrossOriginTests: XCTestCase {
    static let evil = "https://evil.example"
    static let app = "http://localhost:3000"
    static let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"spend the key"}]}"#

    /// A request as Chromium sends it to `http://127.0.0.1:<port>`.
    static func browser(_ method: String, _ path: String, port: Int, host: String? = nil, headers: [(String, String)],
                        body: String? = nil, contentType: String = "text/plain;charset=UTF-8") -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: keep-alive\r\n"
        text += "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n" }
        return text + "Accept: */*\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n" + (body ?? "")
    }

    static func send(_ requests: [String], port: Int) async throws -> [RawHTTPConnection.Response] {
        try await onThread {
            try requests.map { request in
                let connection = try RawHTTPConnection(port: port)
                connection.send(request)
                guard case .response(let response) = connection.readResponse(deadline: .now + .seconds(10)) else {
                    throw TestError("no response to \(request.prefix(80))")
                }
                return response
            }
        }
    }

    static func corsHeaders(_ response: RawHTTPConnection.Response) -> [String] {
        response.headers.filter { $0.0.lowercased().hasPrefix("access-control-") }.map { "\($0.0): \($0.1)" }
    }

    // MARK: forms and simple requests

    func testFormPostsFromAForeignPageAreRefusedAndNeverForwarded() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            // What <form method=post enctype=…> submits, and what fetch(…, {mode: "no-cors"}) sends.
            let form = [("Origin", Self.evil), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"),
                        ("Sec-Fetch-Dest", "iframe"), ("Cache-Control", "max-age=0"), ("Upgrade-Insecure-Requests", "1")]
            let noCors = [("Origin", Self.evil), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "empty")]
            let requests = [
                Self.browser("POST", "/v1/chat/completions", port: port, headers: form, body: Self.body, contentType: "text/plain"),
                Self.browser("POST", "/v1/chat/completions", port: port, headers: form, body: "a=b", contentType: "application/x-www-form-urlencoded"),
                Self.browser("POST", "/v1/chat/completions", port: port, headers: form,
                             body: "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n", contentType: "multipart/form-data; boundary=x"),
                Self.browser("POST", "/v1/chat/completions", port: port, headers: noCors, body: Self.body),
                Self.browser("POST", "/v1/files", port: port, headers: noCors, body: Self.body),
                // A sandboxed iframe or a file:// page sends the opaque origin.
                Self.browser("POST", "/v1/chat/completions", port: port, headers: [("Origin", "null"), ("Sec-Fetch-Site", "cross-site")], body: Self.body),
            ]
            for response in try await Self.send(requests, port: port) {
                XCTAssertEqual(response.status, 403, response.text)
                XCTAssertEqual((try? JSONParser.parse(response.body))?["error"]?["code"]?.stringValue, "forbidden", response.text)
                XCTAssertEqual(Self.corsHeaders(response), [], "a refusal grants nothing")
            }
            XCTAssertEqual(proxy.mock.totalRequests, 0, "no web page made Parrot call the provider")
        }
    }

    func testCrossSiteLoadsWithoutOriginAreRefusedButNavigationToTheDashboardIsNot() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            let image = [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "image")]
            let link = [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document"), ("Sec-Fetch-User", "?1")]
            let sameSite = [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "script")]
            let responses = try await Self.send([
                Self.browser("GET", "/v1/models", port: port, headers: image),
                Self.browser("GET", "/v1/models", port: port, headers: link),
                Self.browser("GET", "/v1/files/file-abc/content", port: port, headers: sameSite),
                Self.browser("GET", "/dashboard", port: port, headers: link),
                Self.browser("GET", "/v1/models", port: port, headers: [("Sec-Fetch-Site", "none"), ("Sec-Fetch-Mode", "navigate")]),
            ], port: port)
            XCTAssertEqual(responses.map(\.status), [403, 403, 403, 200, 200], responses.map(\.text).joined(separator: "\n"))
            XCTAssertEqual(proxy.mock.totalRequests, 1, "only the address typed into the browser went upstream")
        }
    }

    // MARK: CORS

    func testPreflightsAreAnsweredByParrotAndNeverForwarded() async throws {
        try await withProxy(configure: { $0.server.allowedOrigins = [Self.app] }) { proxy in
            let port = proxy.port
            let preflight = { (origin: String) in
                [("Origin", origin), ("Access-Control-Request-Method", "POST"),
                 ("Access-Control-Request-Headers", "authorization,content-type,x-stainless-os"),
                 ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty")]
            }
            let responses = try await Self.send([
                Self.browser("OPTIONS", "/v1/chat/completions", port: port, headers: preflight(Self.app)),
                Self.browser("OPTIONS", "/v1/chat/completions", port: port, headers: preflight(Self.evil)),
                Self.browser("OPTIONS", "/cache", port: port, headers: preflight(Self.app)),
                Self.browser("OPTIONS", "/v1/models", port: port, headers: []),
            ], port: port)
            let allowed = responses[0]
            XCTAssertEqual(allowed.status, 204, allowed.text)
            XCTAssertEqual(allowed.header("access-control-allow-origin"), Self.app)
            XCTAssertEqual(allowed.header("access-control-allow-headers"), "authorization,content-type,x-stainless-os")
            XCTAssertTrue(allowed.header("access-control-allow-methods")?.contains("POST") ?? false)
            XCTAssertTrue(allowed.header("vary")?.contains("Origin") ?? false)
            XCTAssertEqual(responses[1].status, 403, "a foreign origin's preflight")
            XCTAssertEqual(Self.corsHeaders(responses[1]), [])
            XCTAssertEqual(responses[2].status, 403, "admin endpoints take no cross-site request, allowed origin or not")
            XCTAssertEqual(responses[3].status, 405, "OPTIONS is never forwarded")
            XCTAssertEqual(proxy.mock.totalRequests, 0)
        }
    }

    func testAllowedOriginReadsAnswersWithParrotsOwnCORSHeadersOnly() async throws {
        try await withProxy(configure: { $0.server.allowedOrigins = [Self.app + "/"] }) { proxy in
            let port = proxy.port
            let cors = [("Origin", Self.app), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty")]
            let responses = try await Self.send([
                Self.browser("POST", "/v1/chat/completions", port: port, headers: cors, body: Self.body, contentType: "application/json"),
                Self.browser("POST", "/v1/chat/completions", port: port, headers: cors, body: Self.body, contentType: "application/json"),
                // Without an Origin (curl, an SDK), the provider's own CORS headers still never pass.
                Self.browser("GET", "/v1/models", port: port, headers: []),
                Self.browser("POST", "/v1/chat/completions", port: port, headers: [], body: Self.body, contentType: "application/json"),
            ], port: port)
            XCTAssertEqual(responses.map(\.status), [200, 200, 200, 200], responses.map(\.text).joined(separator: "\n"))
            XCTAssertEqual(responses[0].header("x-parrot-cache"), "MISS")
            XCTAssertEqual(responses[1].header("x-parrot-cache"), "HIT")
            for response in responses[0...1] {
                XCTAssertEqual(response.headers.filter { $0.0.lowercased() == "access-control-allow-origin" }.map(\.1), [Self.app],
                               "Parrot's own header, never the provider's '*'")
                XCTAssertTrue(response.header("access-control-expose-headers")?.contains("X-Parrot-Cache") ?? false)
            }
            for response in responses[2...3] { XCTAssertEqual(Self.corsHeaders(response), [], response.headers.description) }
            XCTAssertEqual(proxy.mock.totalRequests, 2)
        }
    }

    func testAdminEndpointsNeverAcceptCrossSiteRequests() async throws {
        try await withProxy(configure: { $0.server.allowedOrigins = [Self.app] }) { proxy in
            let port = proxy.port
            _ = try await proxy.chat("keep me")
            let repeated = try await proxy.chat("keep me").cache
            XCTAssertEqual(repeated, "HIT")
            let own = "http://127.0.0.1:\(port)"
            let refused = try await Self.send([
                Self.browser("DELETE", "/cache", port: port, headers: [("Origin", Self.app), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "cors")]),
                Self.browser("POST", "/stats/reset", port: port, headers: [("Origin", Self.evil), ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors")], body: ""),
                Self.browser("POST", "/stats/reset", port: port, headers: [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate")], body: ""),
                Self.browser("DELETE", "/cache", port: port, headers: [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "cors")]),
            ], port: port)
            XCTAssertEqual(refused.map(\.status), [403, 403, 403, 403], refused.map(\.text).joined(separator: "\n"))
            let kept = try await proxy.chat("keep me").cache
            XCTAssertEqual(kept, "HIT", "nothing was cleared")
            let hits = try await proxy.stats()["cache"]?["hits"]?.intValue
            XCTAssertEqual(hits, 2, "nothing was reset")
            // The dashboard's own calls: same origin (also as https://, behind a TLS proxy).
            let dashboard = try await Self.send([
                Self.browser("POST", "/stats/reset", port: port, headers: [("Origin", "https://127.0.0.1:\(port)"), ("Sec-Fetch-Site", "same-origin")], body: ""),
                Self.browser("DELETE", "/cache", port: port, headers: [("Origin", own), ("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors")]),
            ], port: port)
            XCTAssertEqual(dashboard.map(\.status), [200, 200], dashboard.map(\.text).joined(separator: "\n"))
            let cleared = try await proxy.chat("keep me").cache
            XCTAssertEqual(cleared, "MISS")
        }
    }

    // MARK: Host (DNS rebinding)

    func testRebindingHostIsRefusedWith421OnALoopbackListener() async throws {
        try await withProxy(configure: { $0.server.allowedHosts = ["parrot.test"] }) { proxy in
            let port = proxy.port
            _ = try await proxy.chat("cached before the attack")
            // After a rebinding, evil.example resolves to 127.0.0.1: the browser sends its own name.
            let rebound = "evil.example:\(port)"
            let responses = try await Self.send([
                Self.browser("POST", "/v1/chat/completions", port: port, host: rebound, headers: [], body: Self.body, contentType: "application/json"),
                Self.browser("GET", "/stats", port: port, host: rebound, headers: []),
                Self.browser("DELETE", "/cache", port: port, host: rebound, headers: []),
                Self.browser("POST", "/stats/reset", port: port, host: "EVIL.example", headers: [], body: ""),
                Self.browser("GET", "/healthz", port: port, host: rebound, headers: []),
                Self.browser("GET", "/v1/models", port: port, host: "localhost:\(port)", headers: []),
                Self.browser("GET", "/v1/models", port: port, host: "[::1]:\(port)", headers: []),
                Self.browser("GET", "/v1/models", port: port, host: "LOCALHOST", headers: []),
                Self.browser("GET", "/v1/models", port: port, host: "parrot.test:\(port)", headers: []),
            ], port: port)
            XCTAssertEqual(responses.map(\.status), [421, 421, 421, 421, 200, 200, 200, 200, 200],
                           responses.map(\.text).joined(separator: "\n"))
            XCTAssertEqual((try? JSONParser.parse(responses[0].body))?["error"]?["code"]?.stringValue, "misdirected_request")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1, "only the request before the attack")
            let kept = try await proxy.chat("cached before the attack").cache
            XCTAssertEqual(kept, "HIT", "the cache was not cleared")
        }
    }

    // MARK: configuration

    func testHostOriginAndHeaderTimeoutKeysAreValidatedAndReadFromTheEnvironment() throws {
        let config = try ProxyConfig.parse(
            toml: "[server]\nallowed_origins = [\"http://localhost:3000\"]\nheader_timeout_s = 3\n",
            environment: ["PARROT_SERVER_ALLOWED_HOSTS": "parrot.test, parrot.internal:8080", "PARROT_SERVER_HEADER_TIMEOUT_S": "5"]
        )
        XCTAssertEqual(config.server.allowedOrigins, ["http://localhost:3000"])
        XCTAssertEqual(config.server.allowedHosts, ["parrot.test", "parrot.internal:8080"])
        XCTAssertEqual(config.server.headerTimeoutS, 5)
        XCTAssertEqual(ProxyConfig().server.headerTimeoutS, 10)
        for (toml, key) in [
            ("[server]\nallowed_origins = [\"localhost:3000\"]", "server.allowed_origins"),
            ("[server]\nallowed_origins = [\"*\"]", "server.allowed_origins"),
            ("[server]\nallowed_origins = [\"http://app.test/path\"]", "server.allowed_origins"),
            ("[server]\nallowed_hosts = [\"http://parrot.test\"]", "server.allowed_hosts"),
            ("[server]\nheader_timeout_s = 0", "server.header_timeout_s"),
        ] {
            XCTAssertThrowsError(try ProxyConfig.parse(toml: toml), toml) { error in
                XCTAssertTrue("\(error)".contains(key), "\(error)")
            }
        }
    }
}
