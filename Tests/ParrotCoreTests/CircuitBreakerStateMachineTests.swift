import ParrotCore
import XCTest

/// The breaker fed with events at explicit times: no clock, no sockets, no sleeps.
final class CircuitBreakerStateMachineTests: XCTestCase {
    private func breaker(threshold: Int = 3, openSeconds: Int = 30, probes: Int = 1, rate: Double = 0.5, window: Int = 20, minimumCalls: Int = 10)
        -> CircuitBreakerStateMachine
    {
        var config = BreakerConfig()
        config.failureThreshold = threshold
        config.openSeconds = openSeconds
        config.halfOpenProbes = probes
        config.failureRate = rate
        config.windowSize = window
        config.minimumCalls = minimumCalls
        return CircuitBreakerStateMachine(config: config)
    }

    /// Admits a request and reports its failure, as the guard does for one upstream call.
    private func fail(_ b: inout CircuitBreakerStateMachine, at now: Double) -> CircuitBreakerStateMachine.Transition? {
        let (admission, _) = b.requestArrived(now: now)
        XCTAssertEqual(admission, .allowed, "a closed breaker admits every request")
        return b.requestFailed(now: now)
    }

    private func succeed(_ b: inout CircuitBreakerStateMachine, at now: Double) -> CircuitBreakerStateMachine.Transition? {
        let (admission, _) = b.requestArrived(now: now)
        XCTAssertEqual(admission, .allowed)
        return b.requestSucceeded(now: now)
    }

    func testOpensAfterFailureThresholdConsecutiveFailures() {
        var b = breaker(threshold: 3)
        XCTAssertNil(fail(&b, at: 0))
        XCTAssertNil(fail(&b, at: 1))
        XCTAssertEqual(b.stateName, "closed")
        XCTAssertEqual(b.failures, 2)
        XCTAssertEqual(fail(&b, at: 2), .opened)
        XCTAssertEqual(b.stateName, "open")
        XCTAssertEqual(b.failures, 3)
        XCTAssertEqual(b.state, .open(until: 32))
    }

    func testASuccessResetsTheConsecutiveCount() {
        var b = breaker(threshold: 3, minimumCalls: 1000)
        for i in 0..<10 {
            XCTAssertNil(fail(&b, at: Double(i * 3)))
            XCTAssertNil(fail(&b, at: Double(i * 3 + 1)))
            XCTAssertEqual(b.failures, 2)
            XCTAssertNil(succeed(&b, at: Double(i * 3 + 2)))
            XCTAssertEqual(b.failures, 0, "a success starts the run of failures again")
        }
        XCTAssertEqual(b.stateName, "closed", "20 failures, never 3 in a row")
    }

    func testOpensOnFailureRateOnceMinimumCallsReached() {
        // Threshold out of reach: only the rate can open it.
        var b = breaker(threshold: 100, rate: 0.5, window: 20, minimumCalls: 10)
        for i in 0..<4 {
            XCTAssertNil(succeed(&b, at: Double(2 * i)))
            XCTAssertNil(fail(&b, at: Double(2 * i + 1)))
        }
        XCTAssertNil(succeed(&b, at: 8))
        // 9 calls, 4 failed: under minimum_calls, so not judged yet.
        XCTAssertEqual(b.stateName, "closed")
        XCTAssertEqual(fail(&b, at: 9), .opened, "10 calls, 5 failed: rate 0.5 reached")
        XCTAssertEqual(b.stateName, "open")
    }

    func testAllFailuresUnderMinimumCallsDoNotTripTheRate() {
        var b = breaker(threshold: 100, rate: 0.5, window: 20, minimumCalls: 10)
        for i in 0..<9 { XCTAssertNil(fail(&b, at: Double(i))) }
        XCTAssertEqual(b.stateName, "closed", "9 of 9 failed, but fewer than minimum_calls")
        XCTAssertEqual(fail(&b, at: 9), .opened)
    }

    func testFailureRateIsJudgedOverTheWindowOnly() {
        var b = breaker(threshold: 100, rate: 0.5, window: 10, minimumCalls: 10)
        // Old failures slide out of a 10-call window.
        for i in 0..<4 { XCTAssertNil(fail(&b, at: Double(i))) }
        for i in 4..<14 { XCTAssertNil(succeed(&b, at: Double(i))) }
        for i in 14..<18 { XCTAssertNil(fail(&b, at: Double(i))) }
        XCTAssertEqual(b.stateName, "closed", "4 of the last 10 failed")
        XCTAssertEqual(fail(&b, at: 18), .opened, "5 of the last 10 failed")
    }

    func testOpenRejectsWithRetryAfterUntilHalfOpen() {
        var b = breaker(threshold: 1, openSeconds: 30)
        XCTAssertEqual(fail(&b, at: 100), .opened)
        let (admission, transition) = b.requestArrived(now: 110)
        XCTAssertEqual(admission, .rejected(retryAfter: 20))
        XCTAssertNil(transition)
        XCTAssertEqual(b.retryAfter(now: 110), 20)
        let (later, _) = b.requestArrived(now: 129.5)
        XCTAssertEqual(later, .rejected(retryAfter: 0.5))
        XCTAssertEqual(b.stateName, "open")
    }

    func testHalfOpenAdmitsExactlyTheConfiguredProbes() {
        var b = breaker(threshold: 1, openSeconds: 10, probes: 2)
        XCTAssertEqual(fail(&b, at: 0), .opened)
        let first = b.requestArrived(now: 10)
        XCTAssertEqual(first.0, .allowed)
        XCTAssertEqual(first.1, .halfOpened)
        XCTAssertEqual(b.stateName, "half_open")
        let second = b.requestArrived(now: 10.1)
        XCTAssertEqual(second.0, .allowed)
        XCTAssertNil(second.1)
        for t in [10.2, 11, 50] {
            let (admission, _) = b.requestArrived(now: t)
            guard case .rejected(let retryAfter) = admission else {
                return XCTFail("a third probe must wait, got \(admission)")
            }
            XCTAssertGreaterThan(retryAfter, 0)
        }
        XCTAssertEqual(b.retryAfter(now: 11), 0, "half-open is not open")
    }

    func testProbeSuccessClosesTheBreaker() {
        var b = breaker(threshold: 2, openSeconds: 5)
        _ = fail(&b, at: 0)
        XCTAssertEqual(fail(&b, at: 0), .opened)
        XCTAssertEqual(b.requestArrived(now: 5).1, .halfOpened)
        XCTAssertEqual(b.requestSucceeded(now: 5.2), .closed)
        XCTAssertEqual(b.stateName, "closed")
        XCTAssertEqual(b.failures, 0)
        XCTAssertEqual(b.state, .closed(consecutiveFailures: 0, window: []), "a fresh window after closing")
        // Closed again: the full threshold is needed to re-open.
        XCTAssertNil(fail(&b, at: 6))
        XCTAssertEqual(fail(&b, at: 7), .opened)
    }

    func testProbeFailureReopensForAnotherOpenPeriod() {
        var b = breaker(threshold: 1, openSeconds: 5)
        XCTAssertEqual(fail(&b, at: 0), .opened)
        XCTAssertEqual(b.requestArrived(now: 6).1, .halfOpened)
        XCTAssertEqual(b.requestFailed(now: 6.5), .opened)
        XCTAssertEqual(b.state, .open(until: 11.5), "open_seconds counted from the failed probe")
        let (admission, _) = b.requestArrived(now: 7)
        XCTAssertEqual(admission, .rejected(retryAfter: 4.5))
        XCTAssertEqual(b.failures, 2)
    }

    func testOutcomesReportedWhileOpenChangeNothing() {
        // Late answers of calls admitted before the breaker opened.
        var b = breaker(threshold: 1, openSeconds: 5)
        XCTAssertEqual(fail(&b, at: 0), .opened)
        XCTAssertNil(b.requestSucceeded(now: 1))
        XCTAssertNil(b.requestFailed(now: 1))
        XCTAssertEqual(b.state, .open(until: 5))
    }
}
