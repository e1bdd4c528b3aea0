import Foundation
import Logging
import NIOCore
import Synchronization

/// The only way to a provider: its transport, wrapped in rate limits (RPM/TPM) → circuit
/// breaker → retries. Every call goes through here — chat, completions, pass-through and the
/// semantic tier's embeddings — so each one counts against the provider's limits, obeys and
/// feeds its breaker and shows in its `/stats` counters. Connection failures, 429 and 5xx are
/// retried with exponential backoff and full jitter, honouring `Retry-After`, and only before
/// anything was relayed to a client (a retry happens before the head is published). The state
/// machines are pure; this driver holds them under a `Mutex` and never across an `await`.
public final class GuardedUpstream: Sendable {
    let provider: String
    let config: ProviderConfig
    let stats: Stats.ProviderCounters?
    let logger: Logger
    let clock: @Sendable () -> Double
    private let transport: any UpstreamClient
    private let breaker: Mutex<CircuitBreakerStateMachine>
    private let limiter: Mutex<RateLimiterStateMachine>
    /// Longest `Retry-After` Parrot will wait for before retrying.
    static let maxRetryAfterSeconds = 10.0

    init(provider: String, config: ProviderConfig, transport: any UpstreamClient, stats: Stats.ProviderCounters?, logger: Logger,
         clock: @escaping @Sendable () -> Double = SystemClock.monotonicSeconds) {
        self.provider = provider
        self.config = config
        self.transport = transport
        self.stats = stats
        self.logger = logger
        self.clock = clock
        self.breaker = Mutex(CircuitBreakerStateMachine(config: config.breaker))
        self.limiter = Mutex(RateLimiterStateMachine(rpm: config.rpm, tpm: config.tpm, maxQueueWaitMs: config.maxQueueWaitMs, now: clock()))
    }

    /// Connections to the provider in use right now, for `/stats`.
    var inFlight: Int { transport.inFlight }

    /// Closes the provider's connection pool; at shutdown only.
    func shutdown() async throws { try await transport.shutdown() }

    /// - Parameters:
    ///   - retryable: false for requests whose body can't be re-sent or must not be repeated.
    ///   - estimatedTokens: the request's token estimate for the TPM bucket.
    ///   - deadline: bounds every wait here (the rate limiter's queue, backoff, the head);
    ///     not the body, which the provider's `timeout_ms` between reads bounds.
    func send(_ request: UpstreamRequest, retryable: Bool, estimatedTokens: Int,
              deadline: ContinuousClock.Instant) async throws(ParrotError) -> UpstreamResponse {
        var request = request
        request.deadline = deadline
        var attempt = 0
        while true {
            try await admit(estimatedTokens: attempt == 0 ? estimatedTokens : 0, deadline: deadline)
            stats?.requests.add(1, ordering: .relaxed)
            let canRetry = retryable && attempt < config.maxRetries
            do {
                let response = try await transport.send(request)
                observeLimits(response.head)
                // An answer's outcome is known when its body ends: a provider that sends heads and
                // then cuts every body must still trip the breaker.
                guard response.head.isProviderFailure else {
                    return UpstreamResponse(head: response.head, body: ReportingBody(base: response.body, outcome: BodyOutcome(self)))
                }
                // A 429 is the provider pacing Parrot, not failing: retried, never a breaker failure.
                record(failure: response.head.status != 429)
                stats?.errors.add(1, ordering: .relaxed)
                let retryAfter = response.head.header("retry-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard canRetry, await pause(attempt: attempt, retryAfter: retryAfter, deadline: deadline) else { return response }
            } catch {
                stats?.errors.add(1, ordering: .relaxed)
                record(failure: true)
                let isTimeout = if case .upstreamTimeout = error { true } else { false }
                guard canRetry, !isTimeout || config.retryOnTimeout,
                      await pause(attempt: attempt, retryAfter: nil, deadline: deadline)
                else { throw error }
            }
            attempt += 1
        }
    }

    /// Rate limiter first (a request refused there never counts against the breaker), then the
    /// breaker. A request the breaker refuses spends nothing of the rate limits: an open breaker
    /// answers at once, before the limiter, and a refused half-open request gives its
    /// reservation back; otherwise fail-fast requests would drain the bucket and turn the
    /// breaker's 503 / STALE / fallback into 429s.
    private func admit(estimatedTokens: Int, deadline: ContinuousClock.Instant) async throws(ParrotError) {
        let now = clock()
        let openFor = breaker.withLock { $0.retryAfter(now: now) }
        if openFor > 0 {
            throw .breakerOpen(provider: provider, retryAfter: Int(openFor.rounded(.up)))
        }
        switch limiter.withLock({ $0.requestArrived(estimatedTokens: estimatedTokens, now: now) }) {
        case .rejected(let retryAfter):
            stats?.rateLimited.add(1, ordering: .relaxed)
            throw .rateLimited(provider: provider, retryAfter: Int(retryAfter.rounded(.up)))
        case .proceed(let wait) where wait > 0:
            // A turn that comes after the deadline would only be a timeout: refused now, and its
            // reservation given back (an embedding's `semantic.timeout_ms` is far shorter than
            // `max_queue_wait_ms`).
            let turn = ContinuousClock.now + .milliseconds(Int(wait * 1000))
            guard turn < deadline else {
                let now = clock()
                limiter.withLock { $0.requestWithdrawn(estimatedTokens: estimatedTokens, now: now) }
                stats?.rateLimited.add(1, ordering: .relaxed)
                throw .rateLimited(provider: provider, retryAfter: Int(wait.rounded(.up)))
            }
            do {
                try await Task.sleep(until: turn, clock: .continuous)
            } catch {
                throw .upstreamUnreachable(provider: provider, reason: "cancelled while queued")
            }
        case .proceed:
            break
        }
        let (admission, transition) = breaker.withLock { $0.requestArrived(now: clock()) }
        log(transition)
        if case .rejected(let retryAfter) = admission {
            let now = clock()
            limiter.withLock { $0.requestWithdrawn(estimatedTokens: estimatedTokens, now: now) }
            throw .breakerOpen(provider: provider, retryAfter: Int(retryAfter.rounded(.up)))
        }
    }

    /// Reports an answer's outcome once, when its body ends: a body that breaks (reset, cut,
    /// read timeout) is a provider error and a breaker failure like a failed connection; one read
    /// to the end, abandoned by its client, or never read is a success (the provider answered).
    final class BodyOutcome: Sendable {
        private let owner: GuardedUpstream
        private let reported = Atomic<Bool>(false)

        init(_ owner: GuardedUpstream) { self.owner = owner }

        func bodyEnded(failed: Bool) {
            guard !reported.exchange(true, ordering: .relaxed) else { return }
            if failed { owner.stats?.errors.add(1, ordering: .relaxed) }
            owner.record(failure: failed)
        }

        deinit { bodyEnded(failed: false) }
    }

    /// A provider's body that reports to a `BodyOutcome` how it ended.
    struct ReportingBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let base: any AsyncSequence<ByteBuffer, any Error> & Sendable
        let outcome: BodyOutcome

        struct AsyncIterator: AsyncIteratorProtocol {
            var base: any AsyncIteratorProtocol<ByteBuffer, any Error>
            let outcome: BodyOutcome

            mutating func next() async throws -> ByteBuffer? {
                do {
                    let chunk = try await base.next()
                    if chunk == nil { outcome.bodyEnded(failed: false) }
                    return chunk
                } catch {
                    // Cancelled: every client left; refused for its size: Parrot's own limit.
                    // Neither is the provider failing.
                    let refused = if case .answerTooLarge = error as? ParrotError { true } else { false }
                    outcome.bodyEnded(failed: !Task.isCancelled && !refused)
                    throw error
                }
            }
        }

        func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(base: base.makeAsyncIterator(), outcome: outcome)
        }
    }

    func recordUsage(estimated: Int, actual: Int) {
        guard actual > 0 else { return }
        let now = clock()
        limiter.withLock { $0.usageReported(estimated: estimated, actual: actual, now: now) }
    }

    private func record(failure: Bool) {
        let now = clock()
        let transition = breaker.withLock { failure ? $0.requestFailed(now: now) : $0.requestSucceeded(now: now) }
        log(transition)
    }

    private func log(_ transition: CircuitBreakerStateMachine.Transition?) {
        guard let transition else { return }
        switch transition {
        case .opened: logger.warning("circuit breaker opened", metadata: ["provider": "\(provider)", "open_seconds": "\(config.breaker.openSeconds)"])
        case .halfOpened: logger.notice("circuit breaker half-open: probing", metadata: ["provider": "\(provider)"])
        case .closed: logger.notice("circuit breaker closed", metadata: ["provider": "\(provider)"])
        }
    }

    private func observeLimits(_ head: UpstreamHead) {
        let remainingRequests = head.header("x-ratelimit-remaining-requests").flatMap { Int($0) }
        let remainingTokens = head.header("x-ratelimit-remaining-tokens").flatMap { Int($0) }
        let retryAfter = head.status == 429 ? head.header("retry-after").flatMap { Double($0) } : nil
        guard remainingRequests != nil || remainingTokens != nil || retryAfter != nil else { return }
        let now = clock()
        limiter.withLock {
            $0.providerReported(remainingRequests: remainingRequests, remainingTokens: remainingTokens, retryAfter: retryAfter, now: now)
        }
    }

    /// Sleeps `100 ms · 3^attempt` with full jitter, or `Retry-After`. Returns false when the
    /// provider asks for a longer wait than `maxRetryAfterSeconds` (retrying earlier would not
    /// honour it; the answer and its `Retry-After` go to the client), when the wait would pass
    /// the deadline, or when the task was cancelled: the last answer stands.
    private func pause(attempt: Int, retryAfter: Double?, deadline: ContinuousClock.Instant) async -> Bool {
        if let retryAfter, retryAfter > Self.maxRetryAfterSeconds { return false }
        let ceiling = 0.1 * pow(3.0, Double(attempt))
        let delay = retryAfter.map { max($0, 0) } ?? Double.random(in: 0...ceiling)
        let wake = ContinuousClock.now + .milliseconds(Int(delay * 1000))
        guard wake < deadline else { return false }
        do {
            try await Task.sleep(until: wake, clock: .continuous)
            return true
        } catch {
            return false
        }
    }

    var breakerState: String { breaker.withLock { $0.stateName } }

    func breakerReport() -> JSONValue {
        let (state, failures) = breaker.withLock { ($0.stateName, $0.failures) }
        return .object([("state", .string(state)), ("failures", .int(failures))])
    }

    func limitsReport() -> JSONValue {
        let now = clock()
        let (requests, tokens) = limiter.withLock { $0.remaining(now: now) }
        func value(_ limit: Int, _ remaining: Double?) -> JSONValue {
            guard limit > 0, let remaining else { return .null }
            return .int(max(0, Int(remaining.rounded(.down))))
        }
        return .object([
            ("rpm", config.rpm > 0 ? .int(config.rpm) : .null),
            ("tpm", config.tpm > 0 ? .int(config.tpm) : .null),
            ("remaining_requests", value(config.rpm, requests)),
            ("remaining_tokens", value(config.tpm, tokens)),
        ])
    }
}
