import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// Issue #18 items 2 and 6: the namespace comes from the credential that authenticated the
/// caller, compared as bytes; the key holds what else reaches the provider and changes the
/// answer (query string, `OpenAI-Beta`, organization and project).
final class TenantIsolationTests: XCTestCase {
    private static let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"tenant question"}]}"#

    /// In client-token mode the official SDK sends a placeholder `Authorization` beside each
    /// tenant's own `X-Parrot-Token`; tenant B must not receive tenant A's cached answer.
    func testTenantsWithTheirOwnTokensAndTheSamePlaceholderKeyDoNotShareAnswers() async throws {
        try await withProxy(secrets: Secrets(clientTokens: ["tok-tenant-a", "tok-tenant-b"])) { proxy in
            let script = PythonClient.prelude + """
            def ask(token):
                c = openai.OpenAI(api_key="sk-placeholder", max_retries=0, default_headers={"X-Parrot-Token": token})
                raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "what is our secret plan?"}])
                return raw.headers.get("x-parrot-cache")
            print(json.dumps({"a1": ask("tok-tenant-a"), "a2": ask("tok-tenant-a"), "b1": ask("tok-tenant-b"), "b2": ask("tok-tenant-b")}))
            """
            let result = try XCTUnwrap(try PythonClient.run(script, baseURL: proxy.baseURL, apiKey: "sk-placeholder") as? [String: String])
            XCTAssertEqual(result, ["a1": "MISS", "a2": "HIT", "b1": "MISS", "b2": "HIT"])
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
        }
    }

    /// A token presented as `Authorization: Bearer` is the same tenant as in `X-Parrot-Token`.
    func testTheMatchedTokenIsTheNamespaceWhicheverHeaderCarriedIt() async throws {
        try await withProxy(secrets: Secrets(clientTokens: ["tok-tenant-a"])) { proxy in
            let first = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: [("Authorization", "Bearer tok-tenant-a")])
            XCTAssertEqual(first.cache, "MISS")
            let second = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body,
                                              headers: [("X-Parrot-Token", "tok-tenant-a"), ("Authorization", "Bearer sk-other-placeholder")])
            XCTAssertEqual(second.cache, "HIT")
        }
    }

    /// Canonically equivalent Unicode credentials (NFC "é" and NFD "e"+U+0301) and different
    /// invalid UTF-8 bytes would fold into one namespace as text; credentials are bytes and must
    /// be printable ASCII, so each of these is refused before anything is looked up or sent.
    func testCredentialsOutsideASCIIAreRefusedRatherThanFolded() async throws {
        try await withProxy { proxy in
            for credential in ["Bearer caf\u{E9}", "Bearer cafe\u{301}"] {
                let reply = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: [("Authorization", credential)])
                XCTAssertEqual(reply.status, 401, credential)
                XCTAssertEqual(reply.json?["error"]?["type"]?.stringValue, "authentication_error")
            }
            let port = proxy.port
            let statuses = try await onThread { () -> [Int] in
                var statuses: [Int] = []
                for byte: UInt8 in [0xFF, 0xFE] {
                    let connection = try RawHTTPConnection(port: port)
                    let head = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\nAuthorization: Bearer sk-".utf8)
                        + [byte] + Array("\r\ncontent-length: \(Self.body.utf8.count)\r\n\r\n\(Self.body)".utf8)
                    _ = connection.send(head)
                    if case .response(let response) = connection.readResponse(deadline: .now + .seconds(5)) {
                        statuses.append(response.status)
                    } else {
                        statuses.append(0)
                    }
                }
                return statuses
            }
            XCTAssertEqual(statuses, [401, 401])
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 0)
        }
    }

    /// Two ASCII credentials that differ in one byte never share answers.
    func testCredentialsDifferingInOneByteDoNotShareAnswers() async throws {
        try await withProxy { proxy in
            let a = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: [("Authorization", "Bearer sk-abc")])
            let b = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: [("Authorization", "Bearer sk-abC")])
            let a2 = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: [("Authorization", "Bearer sk-abc")])
            XCTAssertEqual([a.cache, b.cache, a2.cache], ["MISS", "MISS", "HIT"])
        }
    }

    /// The query string reaches the provider, so it is in the key: `?api-version=` answers are
    /// never served to requests without it (or with another one), and each repeat still hits.
    func testQueryStringIsPartOfTheKey() async throws {
        try await withProxy { proxy in
            let paths = ["/v1/chat/completions?api-version=2024-10-21", "/v1/chat/completions",
                         "/v1/chat/completions?api-version=2025-01-01"]
            for path in paths {
                let reply = try await proxy.send(.POST, path, body: Self.body)
                XCTAssertEqual(reply.cache, "MISS", path)
            }
            for path in paths {
                let reply = try await proxy.send(.POST, path, body: Self.body)
                XCTAssertEqual(reply.cache, "HIT", path)
            }
            XCTAssertEqual(proxy.mock.recordedRequests.map(\.path), paths)
        }
    }

    /// `OpenAI-Beta`, `OpenAI-Organization` and `OpenAI-Project` change answers or who pays for
    /// them: each value has its own entry.
    func testAnswerChangingHeadersArePartOfTheKey() async throws {
        try await withProxy { proxy in
            let variants: [[(String, String)]] = [
                [], [("OpenAI-Beta", "assistants=v2")], [("OpenAI-Organization", "org-a")], [("OpenAI-Organization", "org-b")],
                [("OpenAI-Project", "proj-a")],
            ]
            for headers in variants {
                let reply = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: headers)
                XCTAssertEqual(reply.cache, "MISS", "\(headers)")
            }
            for headers in variants {
                let reply = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body, headers: headers)
                XCTAssertEqual(reply.cache, "HIT", "\(headers)")
            }
        }
    }

    /// With Parrot's own key injected, the client's organization and project are not forwarded
    /// (the operator's key bills the operator's organization) and do not split the cache.
    func testInjectedKeyDropsTheClientsOrganizationAndProject() async throws {
        try await withProxy(secrets: Secrets(providerKeys: ["openai": "sk-operator"])) { proxy in
            let first = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body,
                                             headers: [("OpenAI-Organization", "org-client"), ("OpenAI-Project", "proj-client")])
            XCTAssertEqual(first.cache, "MISS")
            let second = try await proxy.send(.POST, "/v1/chat/completions", body: Self.body,
                                              headers: [("OpenAI-Organization", "org-other")])
            XCTAssertEqual(second.cache, "HIT")
            let recorded = try XCTUnwrap(proxy.mock.recordedRequests.first)
            let names = Set(recorded.headers.map(\.name))
            XCTAssertFalse(names.contains("openai-organization"))
            XCTAssertFalse(names.contains("openai-project"))
            XCTAssertEqual(recorded.headers.first { $0.name == "authorization" }?.value, "Bearer sk-operator")
        }
    }
}
