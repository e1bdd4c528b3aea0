import Synchronization

/// Which sample of a full sample set is served next: round-robin in sample order, per key.
/// Bounded: past `capacity` keys the table starts again (rotation restarts at sample 0, which
/// is harmless), so clients cannot grow it without limit.
final class SampleRotation: Sendable {
    private let next = Mutex<[CacheKey: Int]>([:])
    private let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// The sample to serve now out of `count`, advancing the key's turn.
    func take(_ key: CacheKey, of count: Int) -> Int {
        next.withLock { table in
            if table.count >= capacity, table[key] == nil { table.removeAll(keepingCapacity: true) }
            let turn = table[key, default: 0]
            table[key] = turn &+ 1
            return turn % max(1, count)
        }
    }
}
