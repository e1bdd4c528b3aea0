/// The breaker's logic with no clock or lock of its own: events in, decisions out, so every
/// transition can be tested by feeding events (AsyncHTTPClient's connection-pool state machine
/// is the model). Times are seconds on a monotonic clock supplied by the caller.
public struct CircuitBreakerStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        /// Recent outcomes (true = failure), newest last, at most `windowSize`.
        case closed(consecutiveFailures: Int, window: [Bool])
        case open(until: Double)
        case halfOpen(probesInFlight: Int)
    }

    public enum Admission: Sendable, Equatable {
        case allowed
        case rejected(retryAfter: Double)
    }

    public enum Transition: Sendable, Equatable {
        case opened
        case halfOpened
        case closed
    }

    public let config: BreakerConfig
    public private(set) var state: State = .closed(consecutiveFailures: 0, window: [])
    /// Consecutive failures as `/stats` reports them.
    public private(set) var failures = 0

    public init(config: BreakerConfig) {
        self.config = config
    }

    public var stateName: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }

    /// A request wants to go upstream. Returns whether it may, and the transition it caused.
    public mutating func requestArrived(now: Double) -> (Admission, Transition?) {
        switch state {
        case .closed:
            return (.allowed, nil)
        case .open(let until):
            guard now >= until else { return (.rejected(retryAfter: until - now), nil) }
            state = .halfOpen(probesInFlight: 1)
            return (.allowed, .halfOpened)
        case .halfOpen(let probes):
            guard probes < config.halfOpenProbes else { return (.rejected(retryAfter: 1), nil) }
            state = .halfOpen(probesInFlight: probes + 1)
            return (.allowed, nil)
        }
    }

    public mutating func requestSucceeded(now: Double) -> Transition? {
        switch state {
        case .closed(_, var window):
            failures = 0
            Self.push(false, into: &window, limit: config.windowSize)
            state = .closed(consecutiveFailures: 0, window: window)
            return nil
        case .open:
            return nil
        case .halfOpen:
            failures = 0
            state = .closed(consecutiveFailures: 0, window: [])
            return .closed
        }
    }

    public mutating func requestFailed(now: Double) -> Transition? {
        switch state {
        case .closed(let consecutive, var window):
            failures = consecutive + 1
            Self.push(true, into: &window, limit: config.windowSize)
            let failed = window.filter { $0 }.count
            let rateTripped = window.count >= config.minimumCalls && Double(failed) / Double(window.count) >= config.failureRate
            if failures >= config.failureThreshold || rateTripped {
                state = .open(until: now + Double(config.openSeconds))
                return .opened
            }
            state = .closed(consecutiveFailures: failures, window: window)
            return nil
        case .open:
            return nil
        case .halfOpen:
            failures += 1
            state = .open(until: now + Double(config.openSeconds))
            return .opened
        }
    }

    /// Seconds until a request may be tried again (0 when closed).
    public func retryAfter(now: Double) -> Double {
        switch state {
        case .closed, .halfOpen: 0
        case .open(let until): max(0, until - now)
        }
    }

    private static func push(_ outcome: Bool, into window: inout [Bool], limit: Int) {
        window.append(outcome)
        if window.count > limit { window.removeFirst(window.count - limit) }
    }
}
