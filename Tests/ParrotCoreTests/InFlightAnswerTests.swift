import NIOCore
import Synchronization
import XCTest

@testable import ParrotCore

/// The coalescer's pieces without sockets: detaching is idempotent per client, the fetch is
/// cancelled only when no client is left, each client's window bounds what it holds, and the
/// coalescer keeps modes apart unless a conversion can answer.
final class InFlightAnswerTests: XCTestCase {
    /// Starts a fetch that runs until cancelled and reports when it was.
    private func runningAnswer(window: Int = 1 << 20, timeout: Duration = .seconds(10)) -> (InFlightAnswer, Flag) {
        let answer = InFlightAnswer(mode: .sse, replayLimit: 1 << 20, window: window, slowClientTimeout: timeout)
        let cancelled = Flag()
        answer.start { _ in
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            cancelled.value.store(true, ordering: .relaxed)
        }
        return (answer, cancelled)
    }

    func testDetachingTheSameClientTwiceDoesNotCancelAnotherClientsFetch() async throws {
        let (answer, cancelled) = runningAnswer()
        let leader = try XCTUnwrap(answer.attach())
        let joiner = try XCTUnwrap(answer.attach())
        // The sequence from the issue: the cancel handler detaches, then the failure branch or
        // the body's `defer` detaches the same id again.
        answer.detach(leader)
        answer.detach(leader)
        answer.detach(12345)  // never attached: a no-op
        XCTAssertEqual(answer.attachedCount, 1)
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertFalse(cancelled.value.load(ordering: .relaxed), "the joiner is still attached")
        answer.publish(ByteBuffer(string: "still flowing"))
        guard case .chunk(let chunk)? = await answer.next(joiner) else { return XCTFail("the joiner lost its chunk") }
        XCTAssertEqual(String(buffer: chunk), "still flowing")
        answer.detach(joiner)
        let ended = try await eventually(5) { cancelled.value.load(ordering: .relaxed) }
        XCTAssertTrue(ended, "the last client left: the fetch must be cancelled")
    }

    /// A client that attached before the replay buffer overflowed but starts reading after it
    /// must still get every byte, in order.
    func testLateReaderOfALargeAnswerGetsEveryChunk() async {
        let answer = InFlightAnswer(mode: .sse, replayLimit: 1000)
        let leader = answer.attach()!
        let follower = answer.attach()!
        var sent: [UInt8] = []
        for i in 0..<50 {
            let chunk = [UInt8](repeating: UInt8(i), count: 100)  // 5000 bytes: the replay buffer overflows at 1000
            sent += chunk
            answer.publish(ByteBuffer(bytes: chunk))
        }
        XCTAssertNil(answer.attach(), "too late to join once the replay buffer is gone")
        answer.finish()
        for id in [leader, follower] {
            var received: [UInt8] = []
            var finished = false
            while let event = await answer.next(id) {
                switch event {
                case .chunk(let chunk): received += chunk.readableBytesView
                case .finished: finished = true
                case .failed(let error): XCTFail("\(error)")
                }
            }
            XCTAssertTrue(finished)
            XCTAssertEqual(received, sent, "client \(id) got \(received.count) of \(sent.count) bytes")
        }
    }

    func testALateClientReceivesTheReplayThenLiveChunksThenTheEnd() async throws {
        let answer = InFlightAnswer(mode: .sse, replayLimit: 1 << 20)
        let first = try XCTUnwrap(answer.attach())
        answer.publish(ByteBuffer(string: "a"))
        let late = try XCTUnwrap(answer.attach())
        answer.publish(ByteBuffer(string: "b"))
        answer.finish()
        for id in [first, late] {
            var text = ""
            var finished = false
            while let event = await answer.next(id) {
                switch event {
                case .chunk(let chunk): text += String(buffer: chunk)
                case .finished: finished = true
                case .failed: XCTFail("failed")
                }
            }
            XCTAssertEqual(text, "ab")
            XCTAssertTrue(finished)
        }
        XCTAssertEqual(answer.attachedCount, 0, "a terminal event detaches")
    }

    func testTheLeaderWaitsForASlowClientWithinItsWindow() async throws {
        let answer = InFlightAnswer(mode: .sse, replayLimit: 1 << 20, window: 1000, slowClientTimeout: .seconds(30))
        let slow = try XCTUnwrap(answer.attach())
        answer.publish(ByteBuffer(repeating: 1, count: 1500))
        let waited = Flag()
        let leader = Task {
            await answer.waitForRoom()
            waited.value.store(true, ordering: .relaxed)
        }
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertFalse(waited.value.load(ordering: .relaxed), "1500 unread bytes > window 1000: the upstream must wait")
        _ = await answer.next(slow)
        await leader.value
        XCTAssertTrue(waited.value.load(ordering: .relaxed))
        XCTAssertEqual(answer.clientsCutOff, 0)
    }

    func testAClientThatStaysBehindItsWindowIsCutOffAndTheOthersGoOn() async throws {
        let (answer, cancelled) = runningAnswer(window: 1000, timeout: .milliseconds(100))
        let stuck = try XCTUnwrap(answer.attach())
        let reader = try XCTUnwrap(answer.attach())
        answer.publish(ByteBuffer(repeating: 1, count: 1500))
        _ = await answer.next(reader)
        await answer.waitForRoom()  // returns once the stuck client is cut off
        XCTAssertEqual(answer.clientsCutOff, 1)
        let stuckEvent = await answer.next(stuck)
        XCTAssertNil(stuckEvent, "the cut-off client's relay ends")
        answer.publish(ByteBuffer(string: "more"))
        guard case .chunk(let chunk)? = await answer.next(reader) else { return XCTFail("the reader must go on") }
        XCTAssertEqual(String(buffer: chunk), "more")
        XCTAssertFalse(cancelled.value.load(ordering: .relaxed))
        answer.detach(reader)
        let ended = try await eventually(5) { cancelled.value.load(ordering: .relaxed) }
        XCTAssertTrue(ended)
    }

    func testCoalescerKeepsModesApartUnlessConversionIsAllowed() throws {
        let coalescer = Coalescer()
        let key = CacheKey(digest: Array(repeating: 7, count: 32))
        func make(_ mode: CacheEntry.Mode) -> () -> InFlightAnswer { { InFlightAnswer(mode: mode, replayLimit: 1 << 20) } }
        guard case .lead(let stream, _) = coalescer.join(key, mode: .sse, otherModeJoinable: false, recheck: { nil }, make: make(.sse))
        else { return XCTFail("first request leads") }
        guard case .joined(let same, _, let converting) = coalescer.join(key, mode: .sse, otherModeJoinable: false, recheck: { nil }, make: make(.sse))
        else { return XCTFail("same mode joins") }
        XCTAssertTrue(same === stream)
        XCTAssertFalse(converting)
        guard case .lead(let plain, _) = coalescer.join(key, mode: .json, otherModeJoinable: false, recheck: { nil }, make: make(.json))
        else { return XCTFail("a plain request that cannot convert leads its own call") }
        XCTAssertFalse(plain === stream)
        coalescer.remove(key, plain)
        guard case .joined(let other, _, let convertingJoin) = coalescer.join(key, mode: .json, otherModeJoinable: true, recheck: { nil }, make: make(.json))
        else { return XCTFail("a convertible joiner waits for the stream") }
        XCTAssertTrue(other === stream)
        XCTAssertTrue(convertingJoin)
    }

    func testALeaderRechecksTheMemoryTierBeforeCallingUpstream() throws {
        let coalescer = Coalescer()
        let key = CacheKey(digest: Array(repeating: 9, count: 32))
        let entry = CacheEntry(key: key, namespace: "default", endpoint: "/v1/chat/completions", provider: "openai", model: "m",
                               mode: .json, status: 200, contentType: "application/json", body: ByteBuffer(), rawBytes: 0,
                               createdAt: 0, expiresAt: nil, promptTokens: 1, completionTokens: 1, semantic: nil)
        let landed = CachedAnswer(entry: entry, identityBody: ByteBuffer(string: "{}"))
        guard case .cached = coalescer.join(key, mode: .json, otherModeJoinable: false, recheck: { landed },
                                            make: { InFlightAnswer(mode: .json, replayLimit: 1) })
        else { return XCTFail("an answer that landed meanwhile is served, not fetched again") }
        XCTAssertEqual(coalescer.count, 0)
    }
}

/// A flag shared between a test and the tasks it starts.
final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
