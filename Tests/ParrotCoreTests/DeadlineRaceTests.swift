import Synchronization
import XCTest

@testable import ParrotCore

/// `DeadlineRace` must answer at its deadline even when the body ignores cancellation: the
/// PostgreSQL store's calls rely on it never to hold a request for ever.
final class DeadlineRaceTests: XCTestCase {
    struct Late: Error {}

    /// A wait that only `release()` ends, whatever cancellation says.
    final class Gate: Sendable {
        private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        private let opened = Mutex(false)
        func wait() async {
            await withCheckedContinuation { continuation in
                let open = opened.withLock { $0 }
                if open { continuation.resume() } else { waiter.withLock { $0 = continuation } }
            }
        }
        func release() {
            opened.withLock { $0 = true }
            waiter.withLock { $0.take() }?.resume()
        }
    }

    func testTheDeadlineWinsOverABodyThatIgnoresCancellation() async throws {
        let gate = Gate()
        let started = ContinuousClock.now
        do {
            _ = try await DeadlineRace<Int>.run({
                await gate.wait()
                return 1
            }, deadline: {
                try await Task.sleep(for: .milliseconds(100))
                throw Late()
            })
            XCTFail("the body cannot have finished")
        } catch is Late {}
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        gate.release()  // the loser ends later; its result is dropped
        try await Task.sleep(for: .milliseconds(50))
    }

    func testTheBodyWinsWhenItIsFirst() async throws {
        let value = try await DeadlineRace<Int>.run({ 42 }, deadline: {
            try await Task.sleep(for: .seconds(30))
            throw Late()
        })
        XCTAssertEqual(value, 42)
    }

    func testANilDeadlineLeavesTheDecisionToTheBody() async throws {
        let value = try await DeadlineRace<Int>.run({
            try await Task.sleep(for: .milliseconds(200))
            return 7
        }, deadline: { nil })
        XCTAssertEqual(value, 7)
    }

    func testCancellingTheCallerEndsTheWaitAtOnce() async throws {
        let gate = Gate()
        let caller = Task {
            try await DeadlineRace<Int>.run({
                await gate.wait()
                return 1
            }, deadline: {
                try await Task.sleep(for: .seconds(30))
                throw Late()
            })
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        caller.cancel()
        let result = await caller.result
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        XCTAssertThrowsError(try result.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
        gate.release()
    }
}
