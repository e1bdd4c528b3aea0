import Foundation
import ServiceLifecycle
import Synchronization

/// The last hour of `/stats` in 10-second samples, kept in memory (bounded: 360 samples), for
/// `GET /stats?history=1` — so the dashboard's charts are full when the page opens. Each sample
/// holds what happened in its interval, read from the lifetime side of the counters, so a
/// `/stats/reset` does not punch a hole in it.
public final class StatsHistory: Sendable {
    public struct Sample: Sendable, Equatable {
        /// Unix time (seconds) at the end of the interval.
        public var t: Double
        public var requests: Int
        public var hits: Int
        public var semanticHits: Int
        public var misses: Int
        public var upstreamCalls: Int
    }

    public static let interval: Duration = .seconds(10)
    public static let capacity = 360

    private struct Totals {
        var requests = 0, hits = 0, semanticHits = 0, misses = 0, upstreamCalls = 0
    }

    private struct State {
        var samples: [Sample] = []
        var last = Totals()
    }

    private let stats: Stats
    private let state = Mutex(State())

    public init(stats: Stats) {
        self.stats = stats
    }

    /// Closes the current interval at unix time `t`: what was counted since the previous call
    /// becomes one sample; the oldest falls out past an hour. The sampler calls this every 10 s;
    /// tests call it themselves.
    public func sample(at t: Double) {
        let now = Totals(
            requests: stats.requests.lifetime, hits: stats.hits.lifetime, semanticHits: stats.semanticHits.lifetime,
            misses: stats.misses.lifetime, upstreamCalls: stats.upstreamCallsLifetime
        )
        state.withLock { state in
            let last = state.last
            state.last = now
            state.samples.append(Sample(
                t: t, requests: now.requests - last.requests, hits: now.hits - last.hits,
                semanticHits: now.semanticHits - last.semanticHits, misses: now.misses - last.misses,
                upstreamCalls: now.upstreamCalls - last.upstreamCalls
            ))
            if state.samples.count > Self.capacity { state.samples.removeFirst(state.samples.count - Self.capacity) }
        }
    }

    /// Oldest first.
    public var samples: [Sample] { state.withLock { $0.samples } }

    func json() -> JSONValue {
        .array(samples.map { s in
            .object([
                ("t", .int(Int(s.t.rounded()))), ("requests", .int(s.requests)), ("hits", .int(s.hits)),
                ("semantic_hits", .int(s.semanticHits)), ("misses", .int(s.misses)), ("upstream_calls", .int(s.upstreamCalls)),
            ])
        })
    }
}

/// Takes a `StatsHistory` sample every 10 seconds until shutdown. The clock is injectable.
struct StatsHistorySampler: Service {
    let history: StatsHistory
    let clock: any Clock<Duration>

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await clock.sleep(for: StatsHistory.interval) }
            } catch {
                return
            }
            history.sample(at: Date().timeIntervalSince1970)
        }
    }
}
