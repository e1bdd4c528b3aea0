import NIOCore
import XCTest

@testable import ParrotCore

/// The key memo serves a derived key only when endpoint, namespace, variant and every body byte
/// match — never on a hash alone — and stays within its bounds.
final class KeyMemoTests: XCTestCase {
    let derived = KeyMemo.Derived(key: CacheKey(digest: Array(repeating: 1, count: 32)), model: "m", streamed: false, includeUsage: false)

    func testOnlyAnExactRepeatIsRecognised() {
        let memo = KeyMemo()
        let body = ByteBuffer(string: #"{"model":"m"}"#)
        memo.remember(endpoint: .chatCompletions, namespace: "ns", variant: "", body: body, derived: derived)
        XCTAssertEqual(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "", body: body)?.key, derived.key)
        XCTAssertNil(memo.lookup(endpoint: .completions, namespace: "ns", variant: "", body: body))
        XCTAssertNil(memo.lookup(endpoint: .chatCompletions, namespace: "other", variant: "", body: body))
        XCTAssertNil(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "?api-version=1", body: body))
        XCTAssertNil(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "", body: ByteBuffer(string: #"{"model":"n"}"#)))
    }

    func testLargeBodiesAreNotKeptAndTheSlotBoundStartsOver() {
        let memo = KeyMemo(maxSlots: 2, maxBytes: 1 << 20)
        let large = ByteBuffer(repeating: 0x20, count: KeyMemo.maxBodyBytes + 1)
        memo.remember(endpoint: .chatCompletions, namespace: "ns", variant: "", body: large, derived: derived)
        XCTAssertNil(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "", body: large))
        for i in 0..<3 {
            memo.remember(endpoint: .chatCompletions, namespace: "ns", variant: "", body: ByteBuffer(string: "\(i)"), derived: derived)
        }
        XCTAssertNil(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "", body: ByteBuffer(string: "0")),
                     "full: it started over")
        XCTAssertNotNil(memo.lookup(endpoint: .chatCompletions, namespace: "ns", variant: "", body: ByteBuffer(string: "2")))
    }

    func testTheByteBoundCountsWhatASlotReallyTakes() {
        let memo = KeyMemo(maxSlots: 1000, maxBytes: 1 << 20)
        let body = ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        let namespace = String(repeating: "ab", count: 32)
        memo.remember(endpoint: .chatCompletions, namespace: namespace, variant: "", body: body, derived: derived)
        XCTAssertGreaterThan(memo.bytes, body.readableBytes + namespace.utf8.count + 32 + 200,
                             "the slot, the body's storage, the namespace and the digest, not just the body")
    }
}
