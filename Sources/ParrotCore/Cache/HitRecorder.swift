import Synchronization

/// Collects hit counts in memory so a hit never waits on the store; the janitor writes them
/// back in one transaction at most every few seconds.
public final class HitRecorder: Sendable {
    private let pending = Mutex<[CacheKey: HitTally]>([:])

    public init() {}

    public func record(_ key: CacheKey, at time: Double) {
        pending.withLock { table in
            if var tally = table[key] {
                tally.count += 1
                tally.lastHitAt = time
                table[key] = tally
            } else {
                table[key] = HitTally(count: 1, lastHitAt: time)
            }
        }
    }

    public func drain() -> [CacheKey: HitTally] {
        pending.withLock { table in
            defer { table = [:] }
            return table
        }
    }
}
