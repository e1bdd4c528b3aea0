/// Decides whether a store call may try the server. After a call finds it unreachable, calls
/// fail fast for `retryInterval`; then exactly one call probes, and its outcome decides.
struct StoreReachabilityStateMachine {
    enum Action: Equatable {
        case proceed(isProbe: Bool)
        case failFast
    }

    private enum State {
        case reachable
        case unreachable(retryAt: ContinuousClock.Instant)
        case probing
    }

    private var state: State = .reachable
    let retryInterval: Duration

    init(retryInterval: Duration = .seconds(1)) {
        self.retryInterval = retryInterval
    }

    var isReachable: Bool {
        if case .reachable = state { return true }
        return false
    }

    mutating func callStarting(now: ContinuousClock.Instant) -> Action {
        switch state {
        case .reachable:
            return .proceed(isProbe: false)
        case .unreachable(let retryAt):
            guard now >= retryAt else { return .failFast }
            state = .probing
            return .proceed(isProbe: true)
        case .probing:
            return .failFast
        }
    }

    mutating func callSucceeded() {
        state = .reachable
    }

    mutating func callFoundServerUnreachable(now: ContinuousClock.Instant) {
        state = .unreachable(retryAt: now + retryInterval)
    }

    /// The probe was cancelled or a statement failed: the server's state is still unknown, so
    /// the next call probes again.
    mutating func probeEndedWithoutVerdict(now: ContinuousClock.Instant) {
        switch state {
        case .probing:
            state = .unreachable(retryAt: now)
        case .reachable, .unreachable:
            break
        }
    }
}
