import NIOCore
import Synchronization

/// Remembers the cache key derived from recently seen request bodies, so a byte-identical
/// repeat — the usual shape of a cache hit — skips JSON parsing and canonicalisation. A slot is
/// used only when endpoint, namespace and every body byte match (never on the hash alone).
/// Bounded in slots and bytes; when full it starts over, which costs only re-derivations.
final class KeyMemo: Sendable {
    struct Derived: Sendable {
        let key: CacheKey
        let model: String
        let streamed: Bool
        let includeUsage: Bool
    }

    fileprivate struct Slot {
        let endpoint: Endpoint
        let namespace: String
        /// ``KeyVariant`` of the request (query and answer-changing headers).
        let variant: String
        let body: ByteBuffer
        let derived: Derived
    }

    private struct State {
        var slots: [Int: Slot] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())
    let maxSlots: Int
    let maxBytes: Int
    /// Larger bodies are not worth keeping: parsing is a small part of their cost.
    static let maxBodyBytes = 32 << 10

    /// - Parameter maxBytes: bounds what the slots really take (``Slot/footprint``), not just
    ///   the body bytes: 8192 slots of 100-byte bodies take about 5 MiB.
    init(maxSlots: Int = 8192, maxBytes: Int = 4 << 20) {
        self.maxSlots = maxSlots
        self.maxBytes = maxBytes
    }

    private static func hash(_ endpoint: Endpoint, _ namespace: String, _ variant: String, _ body: ByteBuffer) -> Int {
        var hasher = Hasher()
        hasher.combine(endpoint)
        hasher.combine(namespace)
        hasher.combine(variant)
        body.withUnsafeReadableBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    func lookup(endpoint: Endpoint, namespace: String, variant: String, body: ByteBuffer) -> Derived? {
        guard body.readableBytes <= Self.maxBodyBytes else { return nil }
        let h = Self.hash(endpoint, namespace, variant, body)
        return state.withLock { state in
            guard let slot = state.slots[h], slot.endpoint == endpoint, slot.namespace == namespace, slot.variant == variant,
                  slot.body == body
            else { return nil }
            return slot.derived
        }
    }

    func remember(endpoint: Endpoint, namespace: String, variant: String, body: ByteBuffer, derived: Derived) {
        guard body.readableBytes <= Self.maxBodyBytes else { return }
        let h = Self.hash(endpoint, namespace, variant, body)
        // A copy: the request's body is often a slice of the connection's read buffer, and
        // keeping the slice would keep that whole buffer (after a large request on the same
        // connection, hundreds of kB for a 100-byte body), unbounded by `maxBytes`.
        let kept = ByteBuffer(bytes: body.readableBytesView)
        let slot = Slot(endpoint: endpoint, namespace: namespace, variant: variant, body: kept, derived: derived)
        let cost = slot.footprint
        state.withLock { state in
            if state.slots.count >= maxSlots || state.bytes + cost > maxBytes {
                state = State()
            }
            if let old = state.slots.updateValue(slot, forKey: h) {
                state.bytes -= old.footprint
            }
            state.bytes += cost
        }
    }

    /// What the memo holds now, as counted against `maxBytes`.
    var bytes: Int { state.withLock { $0.bytes } }
}

extension KeyMemo.Slot {
    /// What a slot really takes: the body copy and the strings, plus the dictionary's slot (with
    /// the slack of its load factor), the body's storage object, the key's digest array and
    /// malloc's headers — for a 100-byte body most of the cost is not the body.
    var footprint: Int {
        MemoryLayout<KeyMemo.Slot>.stride * 3 / 2 + 16 + 64 + 80 + 48 + body.capacity
            + CachedAnswer.heapCost(namespace) + CachedAnswer.heapCost(variant) + CachedAnswer.heapCost(derived.model)
    }
}
