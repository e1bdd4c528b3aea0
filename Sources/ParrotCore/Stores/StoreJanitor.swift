import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Background upkeep of the cache, as a lifecycle service: every second it checks the store's
/// clear generation (so a clear made by another process empties this memory tier within 1 s),
/// and at once when the store hints that a clear happened (PostgreSQL's NOTIFY: well under a
/// second); every 2 s it adds semantic entries other processes stored, every 5 s it writes
/// batched hit counts back, every 30 s (or once new answers add up to 5 % of the bound) it evicts
/// past `cache.max_bytes`. On shutdown it finishes the round under way and writes the last hit counts.
struct StoreJanitor: Service {
    let tiers: CacheTiers
    let config: CacheConfig
    let semantic: SemanticTier?
    let logger: Logger

    func run() async throws {
        var generation = (try? await tiers.store.clearGeneration()) ?? 0
        var tick = 0
        await evict()
        await semantic?.sync(from: tiers.store)
        let wakeups = JanitorWakeups()
        let store = tiers.store
        await withDiscardingTaskGroup { group in
            group.addTask {
                while (try? await Task.sleep(for: .seconds(1))) != nil { wakeups.ticked() }
            }
            group.addTask {
                for await _ in store.clearHints() { wakeups.clearHinted() }
            }
            await withGracefulShutdownHandler {
                for await wakeup in wakeups.rounds {
                    if let current = try? await tiers.store.clearGeneration(), current != generation {
                        generation = current
                        tiers.memory.clear()
                        semantic?.index.removeAll()
                        logger.info("cache cleared elsewhere; memory tier dropped")
                    }
                    guard wakeup.ticked else { continue }
                    tick += 1
                    if tick % 2 == 0 { await semantic?.sync(from: tiers.store) }
                    if tick % 5 == 0 { await flushHits() }
                    // Every 30 s, or as soon as new answers add up to 5 % of the bound.
                    if tick % 30 == 0 || tiers.bytesSinceEviction.load(ordering: .relaxed) > config.maxBytes / 20 { await evict() }
                }
            } onGracefulShutdown: {
                wakeups.finish()
            }
            group.cancelAll()
        }
        await flushHits()
    }

    func flushHits() async {
        let pending = tiers.hits.drain()
        guard !pending.isEmpty else { return }
        do {
            try await tiers.store.recordHits(pending)
        } catch {
            logger.warning("could not write hit counts", metadata: ["error": "\(error)"])
        }
    }

    func evict() async {
        tiers.bytesSinceEviction.store(0, ordering: .relaxed)
        do {
            let removed = try await tiers.store.evict(maxBytes: config.maxBytes, now: Date().timeIntervalSince1970, staleSeconds: config.staleIfErrorSeconds)
            if removed > 0 { logger.info("evicted cache entries", metadata: ["count": "\(removed)"]) }
        } catch is CancellationError {
            // Shutting down (or start-up failed, e.g. the port was taken): nothing to report.
        } catch {
            logger.warning("eviction failed", metadata: ["error": "\(error)"])
        }
    }
}

/// Why the janitor wakes: the second's tick, a hint that a clear happened, or both. Coalesced,
/// so a slow round (an eviction) never leaves a backlog of rounds behind it.
private final class JanitorWakeups: Sendable {
    struct Wakeup {
        var ticked = false
        var clearHinted = false
    }

    private let pending = Mutex(Wakeup())
    private let bell: AsyncStream<Void>
    private let ring: AsyncStream<Void>.Continuation

    init() {
        (bell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// One element per round, with every reason gathered since the last; ends after `finish()`.
    var rounds: AsyncCompactMapSequence<AsyncStream<Void>, Wakeup> {
        bell.compactMap { [self] in takePending() }
    }

    /// Nil when an earlier round already took what this ring announced.
    private func takePending() -> Wakeup? {
        pending.withLock { pending in
            defer { pending = Wakeup() }
            return pending.ticked || pending.clearHinted ? pending : nil
        }
    }

    func ticked() {
        pending.withLock { $0.ticked = true }
        ring.yield()
    }

    func clearHinted() {
        pending.withLock { $0.clearHinted = true }
        ring.yield()
    }

    func finish() {
        ring.finish()
    }
}

/// Shuts the provider clients down after the server has drained (services stop in reverse
/// order, and the HTTP server is the last one started).
struct UpstreamClientsService: Service {
    let providers: [Provider]

    func run() async throws {
        try? await gracefulShutdown()
        for provider in providers { try? await provider.upstream.shutdown() }
    }
}

// ServiceLifecycle logs each service's description at debug level when it starts; the derived
// one would print the whole cache config, `postgres_url` password included.
extension StoreJanitor: CustomStringConvertible {
    var description: String { "StoreJanitor" }
}

extension UpstreamClientsService: CustomStringConvertible {
    var description: String { "UpstreamClientsService" }
}
