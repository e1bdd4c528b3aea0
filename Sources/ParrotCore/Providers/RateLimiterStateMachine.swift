/// Requests-per-minute and tokens-per-minute token buckets with reservations: each request
/// takes its cost at once (a bucket may go negative) and waits until the debt is repaid. Later
/// requests see a larger debt, so waiting is first-come first-served without a queue.
public struct RateLimiterStateMachine: Sendable {
    public struct Bucket: Sendable, Equatable {
        public let capacity: Double
        public private(set) var tokens: Double
        private var lastRefill: Double

        public init(perMinute: Int, now: Double) {
            capacity = Double(perMinute)
            tokens = Double(perMinute)
            lastRefill = now
        }

        var ratePerSecond: Double { capacity / 60 }

        mutating func refill(now: Double) {
            guard now > lastRefill else { return }
            tokens = min(capacity, tokens + (now - lastRefill) * ratePerSecond)
            lastRefill = now
        }

        /// Seconds until `cost` would be covered if taken now.
        func wait(for cost: Double) -> Double {
            tokens >= cost ? 0 : (cost - tokens) / ratePerSecond
        }

        /// A negative cost gives tokens back (an over-estimate corrected), never past capacity.
        mutating func take(_ cost: Double) { tokens = min(capacity, tokens - cost) }

        mutating func clamp(to remaining: Double) { tokens = min(tokens, remaining) }
    }

    public enum Decision: Sendable, Equatable {
        /// Go after waiting this many seconds (0 = now).
        case proceed(after: Double)
        case rejected(retryAfter: Double)
    }

    public private(set) var requests: Bucket?
    public private(set) var tokens: Bucket?
    let maxWait: Double

    public init(rpm: Int, tpm: Int, maxQueueWaitMs: Int, now: Double) {
        requests = rpm > 0 ? Bucket(perMinute: rpm, now: now) : nil
        tokens = tpm > 0 ? Bucket(perMinute: tpm, now: now) : nil
        maxWait = Double(maxQueueWaitMs) / 1000
    }

    public mutating func requestArrived(estimatedTokens: Int, now: Double) -> Decision {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        let wait = max(requests?.wait(for: 1) ?? 0, tokens?.wait(for: Double(estimatedTokens)) ?? 0)
        guard wait <= maxWait else { return .rejected(retryAfter: wait) }
        requests?.take(1)
        tokens?.take(Double(estimatedTokens))
        return .proceed(after: wait)
    }

    /// A request admitted here never went upstream (the breaker refused it): its reservation
    /// comes back.
    public mutating func requestWithdrawn(estimatedTokens: Int, now: Double) {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        requests?.take(-1)
        tokens?.take(-Double(estimatedTokens))
    }

    /// The answer's `usage` replaces the estimate.
    public mutating func usageReported(estimated: Int, actual: Int, now: Double) {
        tokens?.refill(now: now)
        tokens?.take(Double(actual - estimated))
    }

    /// Provider headers (`x-ratelimit-remaining-*`, `Retry-After`) tighten the local buckets so
    /// Parrot slows down before the provider starts refusing.
    public mutating func providerReported(remainingRequests: Int?, remainingTokens: Int?, retryAfter: Double?, now: Double) {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        if let r = remainingRequests { requests?.clamp(to: Double(r)) }
        if let t = remainingTokens { tokens?.clamp(to: Double(t)) }
        if let retryAfter, retryAfter > 0, let bucket = requests {
            requests?.clamp(to: -retryAfter * bucket.ratePerSecond)
        }
    }

    /// What the buckets hold now (refilled), for `/stats`.
    public mutating func remaining(now: Double) -> (requests: Double?, tokens: Double?) {
        requests?.refill(now: now)
        tokens?.refill(now: now)
        return (requests?.tokens, tokens?.tokens)
    }
}
