import HTTPTypes
import XCTest

@testable import ParrotCore

/// What a request asks of the cache, read from its headers alone.
final class CachePolicyTests: XCTestCase {
    private func policy(_ fields: [(String, String)]) throws -> CachePolicy {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return try CachePolicy(headers: headers)
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
}
