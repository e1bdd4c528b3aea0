import Synchronization

/// A byte-bounded LRU in front of the store. A hit here does no I/O and no decoding; the lock is
/// held only for a dictionary lookup and two index writes, never across an `await`.
public final class MemoryTier: Sendable {
    private struct Node {
        var key: CacheKey
        /// nil once the slot is free, so an evicted answer's bytes are released at once.
        var answer: CachedAnswer?
        var prev: Int
        var next: Int
    }

    private struct State {
        var index: [CacheKey: Int] = [:]
        var nodes: [Node] = []
        var free: [Int] = []
        var head = -1  // most recent
        var tail = -1  // least recent
        var bytes = 0

        mutating func unlink(_ i: Int) {
            let node = nodes[i]
            if node.prev >= 0 { nodes[node.prev].next = node.next } else { head = node.next }
            if node.next >= 0 { nodes[node.next].prev = node.prev } else { tail = node.prev }
        }

        mutating func pushFront(_ i: Int) {
            nodes[i].prev = -1
            nodes[i].next = head
            if head >= 0 { nodes[head].prev = i }
            head = i
            if tail < 0 { tail = i }
        }

        mutating func remove(_ i: Int) {
            unlink(i)
            bytes -= nodes[i].answer?.memoryCost ?? 0
            index[nodes[i].key] = nil
            nodes[i].answer = nil
            free.append(i)
        }
    }

    private let state = Mutex(State())
    public let capacityBytes: Int

    public init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    public func get(_ key: CacheKey) -> CachedAnswer? {
        state.withLock { state in
            guard let i = state.index[key] else { return nil }
            if state.head != i {
                state.unlink(i)
                state.pushFront(i)
            }
            return state.nodes[i].answer
        }
    }

    /// Keeps `answer`, evicting least recently used ones; false when it is larger than the whole
    /// tier (or the tier is off) and was not kept.
    @discardableResult
    public func put(_ answer: CachedAnswer) -> Bool {
        let cost = answer.memoryCost
        guard cost <= capacityBytes else { return false }
        let key = answer.entry.key
        state.withLock { state in
            if let existing = state.index[key] { state.remove(existing) }
            while state.bytes + cost > capacityBytes, state.tail >= 0 {
                state.remove(state.tail)
            }
            let node = Node(key: key, answer: answer, prev: -1, next: -1)
            let i: Int
            if let reused = state.free.popLast() {
                state.nodes[reused] = node
                i = reused
            } else {
                state.nodes.append(node)
                i = state.nodes.count - 1
            }
            state.index[key] = i
            state.bytes += cost
            state.pushFront(i)
        }
        return true
    }

    public func remove(_ key: CacheKey) {
        state.withLock { state in
            if let i = state.index[key] { state.remove(i) }
        }
    }

    /// Drops everything, or only one namespace's entries.
    public func clear(namespace: String? = nil) {
        state.withLock { state in
            guard let namespace else {
                state = State()
                return
            }
            for i in Array(state.index.values) where state.nodes[i].answer?.entry.namespace == namespace {
                state.remove(i)
            }
        }
    }

    public var bytes: Int { state.withLock { $0.bytes } }
    public var count: Int { state.withLock { $0.index.count } }
}
