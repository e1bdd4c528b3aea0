import NIOCore
import XCTest

@testable import ParrotCore

/// The memory tier on its own: a byte-bounded LRU whose bound counts what an entry holds.
final class MemoryTierTests: XCTestCase {
    static func answer(_ n: UInt8, namespace: String = "default", bytes: Int = 1000) -> CachedAnswer {
        let key = CacheKey(digest: Array(repeating: n, count: 32))
        let body = ByteBuffer(repeating: 0x20, count: bytes)
        let entry = CacheEntry(key: key, namespace: namespace, endpoint: "/v1/chat/completions", provider: "openai", model: "m",
                               mode: .json, status: 200, contentType: "application/json", body: body, rawBytes: bytes,
                               createdAt: 0, expiresAt: nil, promptTokens: 1, completionTokens: 1, semantic: nil)
        return CachedAnswer(entry: entry, identityBody: body)
    }

    func testLeastRecentlyUsedIsEvictedFirstAndTheBoundHolds() {
        let one = Self.answer(1)
        let tier = MemoryTier(capacityBytes: one.memoryCost * 3)
        for n: UInt8 in 1...3 { XCTAssertTrue(tier.put(Self.answer(n))) }
        XCTAssertNotNil(tier.get(Self.answer(1).entry.key), "1 is now the most recent")
        tier.put(Self.answer(4))
        XCTAssertNil(tier.get(Self.answer(2).entry.key), "2 was the least recently used")
        XCTAssertNotNil(tier.get(Self.answer(1).entry.key))
        XCTAssertNotNil(tier.get(Self.answer(3).entry.key))
        XCTAssertLessThanOrEqual(tier.bytes, tier.capacityBytes)
        XCTAssertEqual(tier.count, 3)
    }

    func testAnAnswerLargerThanTheTierIsNotKept() {
        let tier = MemoryTier(capacityBytes: 10_000)
        XCTAssertFalse(tier.put(Self.answer(1, bytes: 20_000)))
        XCTAssertEqual(tier.count, 0)
        XCTAssertFalse(MemoryTier(capacityBytes: 0).put(Self.answer(2)), "a tier of 0 bytes is off")
    }

    func testReplacingAKeyCountsItsBytesOnce() {
        let tier = MemoryTier(capacityBytes: 1 << 20)
        tier.put(Self.answer(1))
        let once = tier.bytes
        tier.put(Self.answer(1))
        XCTAssertEqual(tier.bytes, once)
        XCTAssertEqual(tier.count, 1)
    }

    func testClearingOneNamespaceKeepsTheOthers() {
        let tier = MemoryTier(capacityBytes: 1 << 20)
        tier.put(Self.answer(1, namespace: "a"))
        tier.put(Self.answer(2, namespace: "b"))
        tier.clear(namespace: "a")
        XCTAssertNil(tier.get(Self.answer(1).entry.key))
        XCTAssertNotNil(tier.get(Self.answer(2).entry.key))
        tier.clear()
        XCTAssertEqual(tier.count, 0)
        XCTAssertEqual(tier.bytes, 0)
    }
}
