import HTTPTypes
import XCTest

@testable import ParrotCore

/// What a request asks of the cache, read from its headers alone.
final class CachePolicyTests: XCTestCase {
    private func policy(_ fields: [(String, String)], server: CacheMode = .readWrite) throws -> CachePolicy {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return try CachePolicy(headers: headers, serverMode: server)
    }

    private func decision(_ fields: [(String, String)], server: CacheMode = .readWrite, enabled: Bool = true,
                          cacheable: Bool = true) throws -> CachePolicy.Decision {
        try policy(fields, server: server).decision(cacheEnabled: enabled, cacheable: cacheable, configuredTTL: 3600)
    }

    func testDefaultsLookUpAndStore() throws {
        XCTAssertEqual(try policy([]), CachePolicy())
        XCTAssertTrue(try policy([]).lookup)
        XCTAssertTrue(try policy([]).store)
    }

    func testCacheControlDirectives() throws {
        let refresh = try policy([("Cache-Control", "no-cache")])
        XCTAssertFalse(refresh.lookup)
        XCTAssertTrue(refresh.store)
        let bypass = try policy([("Cache-Control", "NO-STORE")])
        XCTAssertFalse(bypass.lookup)
        XCTAssertFalse(bypass.store)
        XCTAssertEqual(try policy([("Cache-Control", "public, max-age=30")]).maxAge, 30)
        XCTAssertThrowsError(try policy([("Cache-Control", "max-age=-1")]))
        XCTAssertThrowsError(try policy([("Cache-Control", "max-age=soon")]))
    }

    func testParrotHeaders() throws {
        let p = try policy([("X-Parrot-TTL", " 0 "), ("X-Parrot-Semantic", "off"), ("X-Parrot-Namespace", "team-a")])
        XCTAssertEqual(p.ttl, 0)
        XCTAssertFalse(p.semantic)
        XCTAssertEqual(p.namespaceName, "team-a")
        XCTAssertThrowsError(try policy([("X-Parrot-TTL", "-5")]))
        XCTAssertThrowsError(try policy([("X-Parrot-Namespace", String(repeating: "n", count: 129))]))
        XCTAssertNil(try policy([("X-Parrot-Namespace", "  ")]).namespaceName)
    }

    // MARK: decisions

    func testDecisionPerModeAndDirective() throws {
        XCTAssertEqual(try decision([]), .lookUp(onMiss: .fetch(.keep(ttlSeconds: 3600))))
        XCTAssertEqual(try decision([("X-Parrot-TTL", "5")]), .lookUp(onMiss: .fetch(.keep(ttlSeconds: 5))))
        XCTAssertEqual(try decision([("Cache-Control", "no-cache")]), .fetch(.keep(ttlSeconds: 3600)))
        XCTAssertEqual(try decision([("Cache-Control", "no-store")]), .bypass)
        XCTAssertEqual(try decision([], server: .readOnly), .lookUp(onMiss: .fetch(.discard)))
        XCTAssertEqual(try decision([], server: .writeOnly), .fetch(.keep(ttlSeconds: 3600)))
        XCTAssertEqual(try decision([], server: .replay), .lookUp(onMiss: .offlineMiss))
        XCTAssertEqual(try decision([], server: .off), .bypass)
        XCTAssertEqual(try decision([], enabled: false), .bypass)
        XCTAssertEqual(try decision([], cacheable: false), .bypass)
    }

    func testADecisionSaysWhatBecomesOfAFetchedAnswer() throws {
        XCTAssertEqual(try decision([]).storage, .keep(ttlSeconds: 3600))
        XCTAssertEqual(try decision([("Cache-Control", "no-cache"), ("X-Parrot-TTL", "0")]).storage, .keep(ttlSeconds: 0))
        XCTAssertEqual(try decision([], server: .readOnly).storage, .discard)
        XCTAssertEqual(try decision([], server: .replay).storage, .discard)
        XCTAssertEqual(try decision([("Cache-Control", "no-store")]).storage, .discard)
    }

    func testOnlyIfCachedNeverFetchesAndNeverStores() throws {
        let offline = try policy([("Cache-Control", "only-if-cached")])
        XCTAssertTrue(offline.offline)
        XCTAssertFalse(offline.store)
        XCTAssertEqual(try decision([("Cache-Control", "only-if-cached")]), .lookUp(onMiss: .offlineMiss))
        // Nothing to look up and no call allowed: an offline miss, never a bypass to the provider.
        XCTAssertEqual(try decision([("Cache-Control", "only-if-cached, no-cache")]), .offlineMiss)
        XCTAssertEqual(try decision([("Cache-Control", "only-if-cached")], enabled: false), .offlineMiss)
        XCTAssertEqual(try decision([("Cache-Control", "only-if-cached")], server: .off), .offlineMiss)
    }

    func testARequestMayNarrowTheServerModeButNeverWidenIt() throws {
        XCTAssertEqual(try policy([("X-Parrot-Cache-Mode", "replay")]).mode, .replay)
        XCTAssertEqual(try policy([("X-Parrot-Cache-Mode", "READ_ONLY")], server: .readWrite).mode, .readOnly)
        XCTAssertEqual(try decision([("X-Parrot-Cache-Mode", "replay")], server: .readOnly), .lookUp(onMiss: .offlineMiss))
        for (server, asked) in [(CacheMode.readOnly, "write_only"), (.readOnly, "read_write"), (.writeOnly, "read_only"),
                                (.replay, "off"), (.replay, "read_only"), (.off, "read_only")] {
            XCTAssertThrowsError(try policy([("X-Parrot-Cache-Mode", asked)], server: server)) { error in
                XCTAssertEqual((error as? ParrotError)?.status.code, 400)
                XCTAssertTrue((error as? ParrotError)?.message.contains("widen") ?? false, "\(error)")
                XCTAssertTrue((error as? ParrotError)?.message.contains(server.rawValue) ?? false, "\(error)")
            }
        }
        XCTAssertThrowsError(try policy([("X-Parrot-Cache-Mode", "sometimes")]))
        // Every mode allows itself and `replay` is allowed wherever serving is.
        for mode in CacheMode.allCases { XCTAssertTrue(mode.allows(mode)) }
        XCTAssertTrue(CacheMode.readOnly.allows(.replay))
        XCTAssertFalse(CacheMode.writeOnly.allows(.replay))
    }

    func testMaxStaleOnlyForOfflineRequestsAndWithinTheStaleWindow() throws {
        let offline = try policy([("Cache-Control", "only-if-cached, max-stale")])
        XCTAssertTrue(offline.acceptsStale(expiredFor: 50, staleIfErrorSeconds: 100))
        XCTAssertFalse(offline.acceptsStale(expiredFor: 150, staleIfErrorSeconds: 100))
        let bounded = try policy([("Cache-Control", "only-if-cached, max-stale=10")])
        XCTAssertFalse(bounded.acceptsStale(expiredFor: 20, staleIfErrorSeconds: 100))
        XCTAssertFalse(try policy([("Cache-Control", "only-if-cached")]).acceptsStale(expiredFor: 1, staleIfErrorSeconds: 100))
        XCTAssertFalse(try policy([("Cache-Control", "max-stale")]).acceptsStale(expiredFor: 1, staleIfErrorSeconds: 100))
        XCTAssertThrowsError(try policy([("Cache-Control", "max-stale=x")]))
    }

    // MARK: recovery

    func testRecoveryIsStaleThenFallbackThenTheError() {
        let down = ParrotError.upstreamUnreachable(provider: "openai", reason: "refused")
        XCTAssertEqual(CachePolicy.recovery(after: down, staleUsable: true, fallback: "backup"), .serveStale)
        XCTAssertEqual(CachePolicy.recovery(after: down, staleUsable: false, fallback: "backup"), .tryFallback("backup"))
        XCTAssertEqual(CachePolicy.recovery(after: down, staleUsable: false, fallback: nil), .fail)
        XCTAssertEqual(CachePolicy.recovery(after: down, staleUsable: false, fallback: ""), .fail)
        let failing = UpstreamErrorAnswer(status: 503, headers: [], body: [])
        XCTAssertEqual(CachePolicy.recovery(after: .upstreamStatus(failing), staleUsable: false, fallback: "b"), .tryFallback("b"))
        XCTAssertEqual(CachePolicy.recovery(after: .breakerOpen(provider: "a", retryAfter: 3), staleUsable: true, fallback: nil), .serveStale)
        XCTAssertEqual(CachePolicy.recovery(after: .upstreamTimeout(provider: "a"), staleUsable: false, fallback: "b"), .tryFallback("b"))
    }

    func testTheClientsOwnErrorsAreNeverRecovered() {
        let badRequest = UpstreamErrorAnswer(status: 400, headers: [], body: [])
        XCTAssertEqual(CachePolicy.recovery(after: .upstreamStatus(badRequest), staleUsable: true, fallback: "b"), .fail)
        XCTAssertEqual(CachePolicy.recovery(after: .answerTooLarge(provider: "a", limit: 1), staleUsable: true, fallback: "b"), .fail)
        XCTAssertEqual(CachePolicy.recovery(after: .invalidRequest("x", param: nil), staleUsable: true, fallback: "b"), .fail)
    }
}
