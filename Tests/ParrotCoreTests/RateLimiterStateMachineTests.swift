import ParrotCore
import XCTest

/// The RPM/TPM buckets fed with requests at explicit times: no clock, no sleeps.
final class RateLimiterStateMachineTests: XCTestCase {
    private func assertProceeds(_ decision: RateLimiterStateMachine.Decision, after expected: Double, accuracy: Double = 1e-9,
                                file: StaticString = #filePath, line: UInt = #line) {
        guard case .proceed(let wait) = decision else {
            return XCTFail("expected to proceed after \(expected) s, got \(decision)", file: file, line: line)
        }
        XCTAssertEqual(wait, expected, accuracy: accuracy, file: file, line: line)
    }

    private func assertRejected(_ decision: RateLimiterStateMachine.Decision, retryAfter expected: Double, accuracy: Double = 1e-9,
                                file: StaticString = #filePath, line: UInt = #line) {
        guard case .rejected(let retryAfter) = decision else {
            return XCTFail("expected a rejection, got \(decision)", file: file, line: line)
        }
        XCTAssertEqual(retryAfter, expected, accuracy: accuracy, file: file, line: line)
    }

    func testUnlimitedBucketsNeverWait() {
        var limiter = RateLimiterStateMachine(rpm: 0, tpm: 0, maxQueueWaitMs: 0, now: 0)
        for _ in 0..<10_000 { assertProceeds(limiter.requestArrived(estimatedTokens: 1_000_000, now: 0), after: 0) }
        let remaining = limiter.remaining(now: 0)
        XCTAssertNil(remaining.requests)
        XCTAssertNil(remaining.tokens)
    }

    func testBurstOfRPMPassesAtOnceThenTheNextWaitsOneInterval() {
        var limiter = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 5000, now: 0)
        for _ in 0..<60 { assertProceeds(limiter.requestArrived(estimatedTokens: 10, now: 0), after: 0) }
        // 60 per minute: one request a second once the burst is spent.
        assertProceeds(limiter.requestArrived(estimatedTokens: 10, now: 0), after: 1)

        var fast = RateLimiterStateMachine(rpm: 600, tpm: 0, maxQueueWaitMs: 5000, now: 0)
        for _ in 0..<600 { assertProceeds(fast.requestArrived(estimatedTokens: 1, now: 0), after: 0) }
        assertProceeds(fast.requestArrived(estimatedTokens: 1, now: 0), after: 0.1)
    }

    func testLaterRequestsWaitLongerFirstComeFirstServed() {
        var limiter = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 10_000, now: 0)
        for _ in 0..<60 { _ = limiter.requestArrived(estimatedTokens: 0, now: 0) }
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0), after: 1)
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0), after: 2)
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0.5), after: 2.5)
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0.5), after: 3.5)
    }

    func testBeyondMaxQueueWaitIsRejectedWithRetryAfterAndTakesNothing() {
        var limiter = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 1500, now: 0)
        for _ in 0..<60 { _ = limiter.requestArrived(estimatedTokens: 0, now: 0) }
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0), after: 1)
        assertRejected(limiter.requestArrived(estimatedTokens: 0, now: 0), retryAfter: 2)
        // A rejected request took no token: the next one sees the same wait.
        assertRejected(limiter.requestArrived(estimatedTokens: 0, now: 0), retryAfter: 2)
        assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 0.5), after: 1.5)
    }

    func testBucketRefillsOverTimeUpToItsCapacity() {
        var limiter = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 0, now: 0)
        for _ in 0..<60 { _ = limiter.requestArrived(estimatedTokens: 0, now: 0) }
        XCTAssertEqual(limiter.remaining(now: 0).requests ?? -1, 0, accuracy: 1e-9)
        XCTAssertEqual(limiter.remaining(now: 10).requests ?? -1, 10, accuracy: 1e-9)
        for _ in 0..<10 { assertProceeds(limiter.requestArrived(estimatedTokens: 0, now: 10), after: 0) }
        assertRejected(limiter.requestArrived(estimatedTokens: 0, now: 10), retryAfter: 1)
        XCTAssertEqual(limiter.remaining(now: 1000).requests ?? -1, 60, accuracy: 1e-9, "never more than one minute's worth")
    }

    func testTokenEstimateIsTakenThenCorrectedFromUsage() {
        var limiter = RateLimiterStateMachine(rpm: 0, tpm: 6000, maxQueueWaitMs: 0, now: 0)
        assertProceeds(limiter.requestArrived(estimatedTokens: 5000, now: 0), after: 0)
        XCTAssertEqual(limiter.remaining(now: 0).tokens ?? -1, 1000, accuracy: 1e-9)
        // 100 tokens a second: the next 5000-token estimate must wait 40 s, past the queue limit.
        assertRejected(limiter.requestArrived(estimatedTokens: 5000, now: 0), retryAfter: 40)
        // The answer used 300: 4700 come back.
        limiter.usageReported(estimated: 5000, actual: 300, now: 0)
        XCTAssertEqual(limiter.remaining(now: 0).tokens ?? -1, 5700, accuracy: 1e-9)
        assertProceeds(limiter.requestArrived(estimatedTokens: 5000, now: 0), after: 0)
        // An answer bigger than estimated takes the difference too.
        limiter.usageReported(estimated: 5000, actual: 5600, now: 0)
        XCTAssertEqual(limiter.remaining(now: 0).tokens ?? -1, 100, accuracy: 1e-9)
    }

    func testUsageCorrectionNeverFillsTheBucketPastCapacity() {
        var limiter = RateLimiterStateMachine(rpm: 0, tpm: 6000, maxQueueWaitMs: 0, now: 0)
        assertProceeds(limiter.requestArrived(estimatedTokens: 5000, now: 0), after: 0)
        // A minute later the bucket has refilled; the refund of an over-estimate must not
        // push it past one minute's worth.
        limiter.usageReported(estimated: 5000, actual: 10, now: 60)
        XCTAssertEqual(limiter.remaining(now: 60).tokens ?? -1, 6000, accuracy: 1e-9)
    }

    func testAWithdrawnRequestGivesItsReservationBack() {
        var limiter = RateLimiterStateMachine(rpm: 2, tpm: 1000, maxQueueWaitMs: 0, now: 0)
        assertProceeds(limiter.requestArrived(estimatedTokens: 400, now: 0), after: 0)
        limiter.requestWithdrawn(estimatedTokens: 400, now: 0)
        let remaining = limiter.remaining(now: 0)
        XCTAssertEqual(remaining.requests ?? -1, 2, accuracy: 1e-9)
        XCTAssertEqual(remaining.tokens ?? -1, 1000, accuracy: 1e-9)
        // Never past capacity, even when withdrawn after a refill.
        assertProceeds(limiter.requestArrived(estimatedTokens: 400, now: 0), after: 0)
        limiter.requestWithdrawn(estimatedTokens: 400, now: 600)
        XCTAssertEqual(limiter.remaining(now: 600).requests ?? -1, 2, accuracy: 1e-9)
        XCTAssertEqual(limiter.remaining(now: 600).tokens ?? -1, 1000, accuracy: 1e-9)
    }

    func testTokensWaitWhenTheTPMBucketIsShortEvenIfRPMIsNot() {
        var limiter = RateLimiterStateMachine(rpm: 600, tpm: 600, maxQueueWaitMs: 10_000, now: 0)
        assertProceeds(limiter.requestArrived(estimatedTokens: 600, now: 0), after: 0)
        // 10 tokens a second: 50 tokens take 5 s; the request bucket alone would not wait.
        assertProceeds(limiter.requestArrived(estimatedTokens: 50, now: 0), after: 5)
        let remaining = limiter.remaining(now: 0)
        XCTAssertEqual(remaining.requests ?? -1, 598, accuracy: 1e-9)
        XCTAssertEqual(remaining.tokens ?? 1, -50, accuracy: 1e-9)
    }

    func testProviderRemainingHeadersTightenTheBuckets() {
        var limiter = RateLimiterStateMachine(rpm: 600, tpm: 100_000, maxQueueWaitMs: 10_000, now: 0)
        limiter.providerReported(remainingRequests: 3, remainingTokens: 500, retryAfter: nil, now: 0)
        let remaining = limiter.remaining(now: 0)
        XCTAssertEqual(remaining.requests ?? -1, 3, accuracy: 1e-9)
        XCTAssertEqual(remaining.tokens ?? -1, 500, accuracy: 1e-9)
        for _ in 0..<3 { assertProceeds(limiter.requestArrived(estimatedTokens: 1, now: 0), after: 0) }
        assertProceeds(limiter.requestArrived(estimatedTokens: 1, now: 0), after: 0.1)
        // A provider saying more is left than Parrot thinks never loosens the bucket.
        limiter.providerReported(remainingRequests: 10_000, remainingTokens: 10_000_000, retryAfter: nil, now: 0)
        XCTAssertEqual(limiter.remaining(now: 0).requests ?? 1, -1, accuracy: 1e-9)
    }

    func testProviderRetryAfterHoldsBackTheNextRequest() {
        var limiter = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 10_000, now: 0)
        limiter.providerReported(remainingRequests: nil, remainingTokens: nil, retryAfter: 3, now: 0)
        guard case .proceed(let wait) = limiter.requestArrived(estimatedTokens: 0, now: 0) else {
            return XCTFail("should queue")
        }
        XCTAssertGreaterThanOrEqual(wait, 3, "nothing goes before the provider's Retry-After")
        XCTAssertLessThanOrEqual(wait, 4)
        // After the Retry-After has passed the bucket works again.
        var later = RateLimiterStateMachine(rpm: 60, tpm: 0, maxQueueWaitMs: 0, now: 0)
        later.providerReported(remainingRequests: nil, remainingTokens: nil, retryAfter: 3, now: 0)
        assertRejected(later.requestArrived(estimatedTokens: 0, now: 1), retryAfter: 3)
        assertProceeds(later.requestArrived(estimatedTokens: 0, now: 4), after: 0)
    }
}
