import NIOCore
import Synchronization

/// One upstream fetch per embeddings input in flight: a batch that needs an input another
/// batch is fetching waits for that fetch instead of sending the input again, and fetches
/// only the inputs nobody is fetching. (The per-input counterpart of `Coalescer`.)
public final class EmbeddingInFlight: Sendable {
    /// A fetched input as the fetching batch hands it to the batches waiting for it.
    public struct Vector: Sendable, Equatable {
        /// Little-endian float32s, as stored and as base64 answers carry them.
        public var float32: ByteBuffer
        public var promptTokens: Int

        public init(float32: ByteBuffer, promptTokens: Int) {
            self.float32 = float32
            self.promptTokens = promptTokens
        }
    }

    /// One input being fetched. Resolved once, by the batch that claimed it: with the vector,
    /// or with nil when its fetch failed (each waiter then fetches it itself).
    public final class Slot: Sendable {
        private enum State {
            case pending([CheckedContinuation<Vector?, Never>])
            case resolved(Vector?)
        }

        private let state = Mutex(State.pending([]))

        /// The fetched vector, waiting for it if needed; nil when the fetch failed.
        public func value() async -> Vector? {
            await withCheckedContinuation { continuation in
                let resolved: Vector?? = state.withLock { state in
                    switch state {
                    case .pending(var waiters):
                        waiters.append(continuation)
                        state = .pending(waiters)
                        return nil
                    case .resolved(let value):
                        return .some(value)
                    }
                }
                if let resolved { continuation.resume(returning: resolved) }
            }
        }

        /// Returns false when it was resolved already.
        fileprivate func resolve(_ value: Vector?) -> Bool {
            let waiters: [CheckedContinuation<Vector?, Never>]? = state.withLock { state in
                switch state {
                case .pending(let waiters):
                    state = .resolved(value)
                    return waiters
                case .resolved:
                    return nil
                }
            }
            guard let waiters else { return false }
            for waiter in waiters { waiter.resume(returning: value) }
            return true
        }
    }

    private let fetching = Mutex<[CacheKey: Slot]>([:])
    private let inputLimit: Atomic<Int>

    /// - Parameter maxInputsPerRequest: inputs per upstream request; a batch with more missing
    ///   inputs is split into several requests.
    public init(maxInputsPerRequest: Int = EmbeddingBatch.openAIMaxInputs) {
        inputLimit = Atomic(max(1, maxInputsPerRequest))
    }

    /// Inputs per upstream request (OpenAI's limit unless lowered, as tests do to see splits).
    public var maxInputsPerRequest: Int {
        get { inputLimit.load(ordering: .relaxed) }
        set { inputLimit.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Keys this batch now fetches (and must resolve, whatever happens) and keys another batch
    /// is fetching (to wait for), in one step so no key is fetched twice.
    public struct Claim: Sendable {
        public var leading: [CacheKey: Slot] = [:]
        public var joined: [CacheKey: Slot] = [:]
    }

    public func claim(_ keys: some Sequence<CacheKey>) -> Claim {
        fetching.withLock { table in
            var claim = Claim()
            for key in keys {
                if let slot = table[key] {
                    claim.joined[key] = slot
                } else {
                    let slot = Slot()
                    table[key] = slot
                    claim.leading[key] = slot
                }
            }
            return claim
        }
    }

    /// Hands a claimed key's outcome to its waiters and forgets the key; a later batch that
    /// misses it looks it up (or fetches it) anew. Resolving twice is harmless.
    public func resolve(_ key: CacheKey, _ slot: Slot, with value: Vector?) {
        fetching.withLock { table in
            if table[key] === slot { table[key] = nil }
        }
        _ = slot.resolve(value)
    }

    /// Keys being fetched right now (for tests and diagnostics).
    public var count: Int { fetching.withLock { $0.count } }
}
