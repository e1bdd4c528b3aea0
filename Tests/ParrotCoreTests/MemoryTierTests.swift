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

import CParrotKernels

/// What the tier charges against `cache.memory_bytes` covers what its entries really take on
/// the heap (bodies, strings, key, node, index), measured, for answers shaped like a real miss.
final class MemoryTierFootprintTests: XCTestCase {
    /// An 8 KiB answer read in 1 KiB chunks (its buffer grew by doubling), its gzip form, a
    /// derived 64-hex namespace and a content type that came from a header.
    static func missLike(_ n: Int) -> CachedAnswer {
        var digest = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: n.littleEndian) { for (i, b) in $0.enumerated() { digest[i] = b } }
        var identity = ByteBuffer()
        for _ in 0..<8 { identity.writeBytes([UInt8](repeating: UInt8(ascii: "a"), count: 1050)) }
        let gzip = ByteBuffer(repeating: 0x1F, count: 700)
        let namespace = String(repeating: "ab", count: 32) + String(n % 10)
        let entry = CacheEntry(key: CacheKey(digest: digest), namespace: String(namespace.dropLast()), endpoint: "/v1/chat/completions",
                               provider: "openai", model: "gpt-4o-mini", mode: .json, status: 200,
                               contentType: String("application/json; charset=utf-8".utf8.map { Character(UnicodeScalar($0)) }),
                               body: gzip, rawBytes: identity.readableBytes, createdAt: 0, expiresAt: nil)
        return CachedAnswer(entry: entry, identityBody: identity)
    }

    func testTheChargedSizeCoversWhatEntriesTakeOnTheHeap() throws {
        guard parrot_heap_bytes_in_use() >= 0 else { throw XCTSkip("heap statistics need glibc") }
        let count = 3000
        let tier = MemoryTier(capacityBytes: 1 << 30)
        let before = parrot_heap_bytes_in_use()
        for n in 0..<count { XCTAssertTrue(tier.put(Self.missLike(n))) }
        let heap = parrot_heap_bytes_in_use() - before
        XCTAssertEqual(tier.count, count)
        XCTAssertGreaterThanOrEqual(Int64(tier.bytes), heap, "charged \(tier.bytes / count) B per entry, heap took \(heap / Int64(count))")
        XCTAssertLessThanOrEqual(Int64(tier.bytes), heap * 13 / 10, "charged \(tier.bytes / count) B per entry, heap took \(heap / Int64(count))")
    }
}
