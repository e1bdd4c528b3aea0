import Foundation
import Logging
import Synchronization

/// The memory tier and the store as one lookup path, plus the store's health as `/readyz`
/// reports it. A store failure is logged and turns into a miss the caller serves as BYPASS.
public final class CacheTiers: Sendable {
    public let memory: MemoryTier
    public let store: any CacheStore
    public let hits = HitRecorder()
    let logger: Logger
    private let storeHealthy = Atomic<Bool>(true)
    /// Stored bytes written since the last eviction pass, so the janitor evicts early when a
    /// burst of new answers could push the store past `cache.max_bytes`.
    let bytesSinceEviction = Atomic<Int>(0)

    public init(memory: MemoryTier, store: any CacheStore, logger: Logger) {
        self.memory = memory
        self.store = store
        self.logger = logger
    }

    public enum Lookup: Sendable {
        case hit(CachedAnswer)
        /// Present but past its TTL (or past the caller's max-age): usable only as STALE.
        case expired(CachedAnswer)
        case miss
        case storeFailed
    }

    public var isStoreHealthy: Bool { storeHealthy.load(ordering: .relaxed) }

    func markStore(healthy: Bool, error: (any Error)? = nil) {
        let was = storeHealthy.exchange(healthy, ordering: .relaxed)
        if was != healthy {
            if healthy {
                logger.notice("cache store is reachable again; caching resumes")
            } else {
                logger.error("cache store failed; requests go upstream uncached (BYPASS)", metadata: ["error": "\(error.map { "\($0)" } ?? "")"])
            }
        }
    }

    public func lookup(_ key: CacheKey, now: Double, maxAge: Int?) async -> Lookup {
        if let answer = memory.get(key) {
            return classify(answer, now: now, maxAge: maxAge)
        }
        do {
            guard let entry = try await store.get(key) else {
                markStore(healthy: true)
                return .miss
            }
            markStore(healthy: true)
            let answer = try CachedAnswer(entry: entry)
            if entry.isFresh(at: now) { memory.put(answer) }
            return classify(answer, now: now, maxAge: maxAge)
        } catch {
            markStore(healthy: false, error: error)
            return .storeFailed
        }
    }

    private func classify(_ answer: CachedAnswer, now: Double, maxAge: Int?) -> Lookup {
        if !answer.entry.isFresh(at: now) { return .expired(answer) }
        if let maxAge, Double(answer.entry.age(at: now)) > Double(maxAge) { return .expired(answer) }
        return .hit(answer)
    }

    /// Writes a complete answer to the store (the memory tier is the caller's first step).
    func persist(_ answer: CachedAnswer) async -> Bool {
        do {
            try await store.put(answer.entry)
            bytesSinceEviction.add(answer.entry.body.readableBytes, ordering: .relaxed)
            markStore(healthy: true)
            return true
        } catch {
            markStore(healthy: false, error: error)
            return false
        }
    }
}
