import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParrotCore
import ParrotMock
import XCTest

/// Credentials and secrets stay secret, and tenants stay apart: API keys, `Authorization`
/// headers, the admin and client tokens and the namespace HMAC secret never show up in logs,
/// `/stats`, `/metrics`, cache keys, exports, the SQLite file or error messages; two keys
/// never see each other's answers. (Admin-token enforcement itself: StatsTests.)
final class SecretsTests: XCTestCase {
    static let clientKey = "sk-client-Q7vLm2Zx9"
    static let otherClientKey = "sk-other-Hn4Kp8Wd3"
    static let injectedKey = "sk-injected-Rt5Yc1Bv6"
    static let adminToken = "admin-Gz8Nq3Lw0"
    static let clientToken = "ptok-Fj2Ds7Xe4"
    static let otherClientToken = "ptok-Qw8Lm3Zr6"
    static let namespaceSecret = "nssecret-Mb6Hu9Tc5"
    static let databasePassword = "pgpass-Kd8Wq1Zr3"
    static var all: [String] { [clientKey, otherClientKey, injectedKey, adminToken, clientToken, otherClientToken, namespaceSecret, databasePassword] }

    /// Every secret, and a distinctive tail of it (a secret cut or re-encoded still leaks).
    static func assertNoSecret(in text: String, _ place: String, file: StaticString = #filePath, line: UInt = #line) {
        for secret in all {
            for needle in [secret, String(secret.suffix(9))] where text.contains(needle) {
                XCTFail("\(needle) leaked into \(place): \(text.prefix(2000))", file: file, line: line)
            }
        }
    }

    static func assertNoSecret(in bytes: [UInt8], _ place: String, file: StaticString = #filePath, line: UInt = #line) {
        for secret in all {
            let needle = Array(secret.utf8)
            let found = bytes.count >= needle.count && (0...(bytes.count - needle.count)).contains { start in
                bytes[start] == needle[0] && Array(bytes[start..<start + needle.count]) == needle
            }
            XCTAssertFalse(found, "\(secret) leaked into \(place)", file: file, line: line)
        }
    }

    func testSecretsNeverAppearInLogsStatsMetricsKeysExportsTheStoreFileOrErrors() async throws {
        let secrets = Secrets(providerKeys: ["openai": Self.injectedKey], adminToken: Self.adminToken, clientTokens: [Self.clientToken, Self.otherClientToken],
                              namespaceSecret: Self.namespaceSecret)
        try await withProxy(secrets: secrets, configure: { config in
            config.providers["openai"]!.maxRetries = 0
        }) { proxy in
            let token = ("x-parrot-token", Self.clientToken)
            let asClient = [token, ("authorization", "Bearer \(Self.clientKey)")]
            // Another tenant: its own client token (the namespace derives from the token that
            // authenticated the caller, not from the provider key beside it).
            let asOther = [("x-parrot-token", Self.otherClientToken), ("api-key", Self.otherClientKey)]
            var replies: [TestProxy.Reply] = []
            replies.append(try await proxy.chat("keep my secrets", headers: asClient))
            replies.append(try await proxy.chat("keep my secrets", headers: asClient))
            replies.append(try await proxy.chat("keep my secrets", headers: asOther))
            replies.append(try await proxy.chat("streamed secrets", stream: true, headers: asClient))
            replies.append(try await proxy.chat("no store", headers: asClient + [("cache-control", "no-store")]))
            replies.append(try await proxy.chat("failing", headers: asClient + [("x-mock-status", "500")]))
            replies.append(try await proxy.chat("dropped", headers: asClient + [("x-mock-close", "1")]))
            _ = try? await proxy.chat("cut", stream: true, headers: asClient + [("x-mock-cut-after", "1")])
            replies.append(try await proxy.send(.GET, "/v1/models", headers: asClient))
            replies.append(try await proxy.send(.POST, "/v1/embeddings", body: #"{"model":"text-embedding-3-small","input":"x"}"#, headers: asOther))
            replies.append(try await proxy.send(.POST, "/v1/chat/completions", body: "{not json", headers: asClient))
            replies.append(try await proxy.send(.POST, "/v1/chat/completions", body: #"{"model":7}"#, headers: asClient))
            replies.append(try await proxy.chat("bad ttl", headers: asClient + [("x-parrot-ttl", "soon")]))
            // Wrong credentials of every kind: the refusal must not echo what was presented or expected.
            replies.append(try await proxy.chat("no token", headers: [("authorization", "Bearer \(Self.clientKey)")]))
            replies.append(try await proxy.chat("wrong token", headers: [("x-parrot-token", Self.clientToken + "x")]))
            replies.append(try await proxy.send(.DELETE, "/cache", headers: [("authorization", "Bearer \(Self.clientKey)")]))
            replies.append(try await proxy.send(.POST, "/stats/reset", headers: [("authorization", "Bearer \(Self.adminToken)-wrong")]))
            XCTAssertEqual(replies[0].cache, "MISS")
            XCTAssertEqual(replies[1].cache, "HIT")
            XCTAssertEqual(replies[2].cache, "MISS", "another key")
            XCTAssertEqual(replies[5].status, 500)
            XCTAssertEqual(replies[6].status, 502)
            XCTAssertEqual(replies[9].status, 400)
            XCTAssertEqual(replies[12].status, 401)
            XCTAssertEqual(replies[13].status, 401)
            XCTAssertEqual(replies[14].status, 401)
            XCTAssertEqual(replies[15].status, 401)
            let settled = try await eventually { try await proxy.stats()["cache"]?["entries"] == .int(4) }
            XCTAssertTrue(settled, "two keys' answers, the stream and the embedding are stored")

            // The provider got the injected key, and never a client's key or Parrot's own tokens.
            for request in proxy.mock.recordedRequests {
                XCTAssertEqual(request.header("authorization"), "Bearer \(Self.injectedKey)")
                XCTAssertNil(request.header("api-key"))
                XCTAssertNil(request.header("x-parrot-token"))
            }

            for (i, reply) in replies.enumerated() {
                Self.assertNoSecret(in: reply.body, "the body of reply \(i) (\(reply.status))")
                Self.assertNoSecret(in: reply.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n"), "the headers of reply \(i)")
            }
            let logs = proxy.logs.all
            XCTAssertFalse(logs.isEmpty)
            Self.assertNoSecret(in: logs.joined(separator: "\n"), "the logs")
            for path in ["/stats", "/metrics", "/dashboard", "/readyz", "/healthz"] {
                let page = try await proxy.send(.GET, path)
                Self.assertNoSecret(in: page.body, path)
            }

            let store = proxy.engine.tiers.store
            let entries = try await store.entries(after: nil, limit: 100)
            XCTAssertEqual(entries.count, 4)
            for entry in entries {
                let identity = String(buffer: try CachedAnswer(entry: entry).identityBody)
                Self.assertNoSecret(in: [entry.key.hex, entry.namespace, entry.endpoint, entry.provider, entry.model, entry.contentType, identity]
                    .joined(separator: " "), "a stored entry")
                XCTAssertNotEqual(entry.namespace, "default", "a credential gives its own namespace")
            }
            XCTAssertEqual(Set(entries.map(\.namespace)).count, 2, "two tenants, two namespaces")
            var export = ""
            let exported = try await CacheTransfer.export(from: store) { export += $0 }
            XCTAssertEqual(exported, 4)
            Self.assertNoSecret(in: export, "the export")

            // The file itself, write-ahead log included, once everything is written.
            await proxy.stopProxy()
            for suffix in ["", "-wal", "-shm"] {
                let path = proxy.config.cache.path + suffix
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                Self.assertNoSecret(in: Array(data), "the SQLite file \(path)")
            }
        }
    }

    func testTheNamespaceSecretDecidesTheNamespaceIds() async throws {
        // The secret really is the HMAC key (otherwise the scans above would prove little): the
        // same credential lands in the same namespace only under the same secret.
        var namespaces: [String] = []
        for secret in ["secret-one", "secret-two", "secret-one"] {
            try await withProxy(secrets: Secrets(namespaceSecret: secret)) { proxy in
                _ = try await proxy.chat("which namespace", headers: [("authorization", "Bearer \(Self.clientKey)")])
                let stored = try await eventually { try await proxy.stats()["cache"]?["entries"] == .int(1) }
                XCTAssertTrue(stored)
                let entry = try await proxy.engine.tiers.store.entries(after: nil, limit: 1)
                namespaces.append(try XCTUnwrap(entry.first?.namespace))
            }
        }
        XCTAssertNotEqual(namespaces[0], namespaces[1])
        XCTAssertEqual(namespaces[0], namespaces[2])
        for namespace in namespaces { Self.assertNoSecret(in: namespace, "a namespace id") }
    }

    func testSecretsFromTheEnvironmentNeverReachTheProcessLogsEvenAtTrace() async throws {
        let environment = [
            "PARROT_PROVIDERS_OPENAI_API_KEY_ENV": "TEST_PROVIDER_KEY",
            "TEST_PROVIDER_KEY": Self.injectedKey,
            "PARROT_SERVER_ADMIN_TOKEN_ENV": "TEST_ADMIN_TOKEN",
            "TEST_ADMIN_TOKEN": Self.adminToken,
            "PARROT_CACHE_NAMESPACE_SECRET_ENV": "TEST_NAMESPACE_SECRET",
            "TEST_NAMESPACE_SECRET": Self.namespaceSecret,
            // Configured but unused (the store is SQLite): a password in the URL must not be logged either.
            "PARROT_CACHE_POSTGRES_URL": "postgres://parrot:\(Self.databasePassword)@127.0.0.1:1/parrot",
            "PARROT_LOG_LEVEL": "trace",
            "PARROT_LOG_FORMAT": "json",
        ]
        try await withParrotProcess("parrot-secrets", environment: environment) { parrot, mock in
            let base = parrot.baseURL
            func send(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)]) async throws -> String {
                var request = HTTPClientRequest(url: base + path)
                request.method = method
                if let body { request.body = .bytes(ByteBuffer(string: body)) }
                for (name, value) in headers { request.headers.add(name: name, value: value) }
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                let bytes = try await response.body.collect(upTo: 1 << 20)
                return response.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n") + "\n" + String(buffer: bytes)
            }
            let auth = [("authorization", "Bearer \(Self.clientKey)")]
            let chat = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"trace me"}]}"#
            var seen: [String] = []
            seen.append(try await send(.POST, "/v1/chat/completions", body: chat, headers: auth))
            seen.append(try await send(.POST, "/v1/chat/completions", body: chat, headers: auth))
            seen.append(try await send(.POST, "/v1/chat/completions", body: chat, headers: auth + [("x-mock-status", "500")]))
            seen.append(try await send(.POST, "/v1/chat/completions", body: "{oops", headers: auth))
            seen.append(try await send(.POST, "/stats/reset", headers: [("authorization", "Bearer \(Self.adminToken)x")]))
            seen.append(try await send(.GET, "/stats", headers: []))
            seen.append(try await send(.GET, "/metrics", headers: []))
            for (i, text) in seen.enumerated() { Self.assertNoSecret(in: text, "answer \(i) of the process") }
            XCTAssertEqual(mock.recordedRequests.first?.header("authorization"), "Bearer \(Self.injectedKey)", "the key from the environment is in use")
            // Everything written, the process gone: its log and its store file.
            await parrot.stop()
            let log = parrot.log
            XCTAssertFalse(log.isEmpty, "trace logging wrote something")
            Self.assertNoSecret(in: log, "the process log at trace level")
            for suffix in ["", "-wal"] {
                if let data = FileManager.default.contents(atPath: parrot.directory + "/cache.sqlite" + suffix) {
                    Self.assertNoSecret(in: Array(data), "the SQLite file")
                }
            }
        }
    }

    // MARK: tenants

    func testTwoKeysNeverReceiveEachOthersAnswersAndTheSecondIsAFreshUpstreamCall() async throws {
        try await withProxy { proxy in
            let a = [("authorization", "Bearer \(Self.clientKey)")]
            let b = [("api-key", Self.otherClientKey)]
            for stream in [false, true] {
                let text = "tenant question \(stream)"
                let before = proxy.mock.requestCount(path: "/v1/chat/completions")
                let first = try await proxy.chat(text, stream: stream, headers: a)
                let hitA = try await proxy.chat(text, stream: stream, headers: a)
                XCTAssertEqual(first.cache, "MISS")
                XCTAssertEqual(hitA.cache, "HIT")
                // B asks after A's answer is cached: a MISS, answered by the provider, not from A's entry.
                let other = try await proxy.chat(text, stream: stream, headers: b)
                XCTAssertEqual(other.cache, "MISS")
                XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), before + 2, "B's request went upstream")
                XCTAssertNotEqual(other.body, first.body, "B got the provider's fresh answer (its own id), not A's bytes")
                let hitB = try await proxy.chat(text, stream: stream, headers: b)
                XCTAssertEqual(hitB.cache, "HIT")
                XCTAssertEqual(hitB.body, other.body)
                let hitAAgain = try await proxy.chat(text, stream: stream, headers: a)
                XCTAssertEqual(hitAAgain.body, first.body, "A still gets its own answer")
                // Without a credential: the default namespace, apart from both.
                let anonymous = try await proxy.chat(text, stream: stream)
                XCTAssertEqual(anonymous.cache, "MISS")
            }
            // Arriving together, two keys are not coalesced into one upstream call either.
            let before = proxy.mock.requestCount(path: "/v1/chat/completions")
            let slow = [("x-mock-delay-ms", "300")]
            async let fromA = proxy.chat("together", headers: a + slow)
            async let fromB = proxy.chat("together", headers: b + slow)
            let (ra, rb) = try await (fromA, fromB)
            XCTAssertEqual(ra.cache, "MISS")
            XCTAssertEqual(rb.cache, "MISS")
            XCTAssertNotEqual(ra.body, rb.body)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), before + 2)
        }
    }
}
