import Synchronization

/// One upstream call per key and mode in flight (nginx `proxy_cache_lock`). A client always
/// receives its own mode: it joins a call of its own mode, or — where the endpoint converts and
/// the conversion can be exact — waits for a call of the other mode and converts its complete
/// answer; otherwise it leads a call of its own.
public final class Coalescer: Sendable {
    struct Slot: Hashable {
        let key: CacheKey
        let mode: CacheEntry.Mode
    }

    private let inFlight = Mutex<[Slot: InFlightAnswer]>([:])

    public init() {}

    enum Joined {
        /// Lead: start the fetch.
        case lead(InFlightAnswer, id: Int)
        /// Joined a call in flight; `converting` when it is of the other mode.
        case joined(InFlightAnswer, id: Int, converting: Bool)
        /// The answer landed in the memory tier between the caller's lookup and now.
        case cached(CachedAnswer)
    }

    /// - Parameters:
    ///   - otherModeJoinable: whether a call of the other mode may answer this request converted.
    ///   - recheck: the memory-tier lookup, run under the lock before becoming leader: an answer
    ///     that landed since the caller's lookup (its leader finished a moment ago) is served
    ///     instead of a second upstream call.
    func join(_ key: CacheKey, mode: CacheEntry.Mode, otherModeJoinable: Bool, recheck: () -> CachedAnswer?,
              make: () -> InFlightAnswer) -> Joined {
        inFlight.withLock { table in
            if let id = Self.attach(to: Slot(key: key, mode: mode), in: &table) {
                return .joined(table[Slot(key: key, mode: mode)]!, id: id, converting: false)
            }
            if otherModeJoinable, let id = Self.attach(to: Slot(key: key, mode: mode.other), in: &table) {
                return .joined(table[Slot(key: key, mode: mode.other)]!, id: id, converting: true)
            }
            if let cached = recheck() { return .cached(cached) }
            let answer = make()
            table[Slot(key: key, mode: mode)] = answer
            return .lead(answer, id: answer.attach()!)
        }
    }

    /// Attaches to the answer in `slot`. An answer that refuses (its state machine says it failed,
    /// was abandoned by every client, or outgrew its replay bound) can never be joined again, so
    /// its slot is freed at once instead of when its fetch task ends.
    private static func attach(to slot: Slot, in table: inout [Slot: InFlightAnswer]) -> Int? {
        guard let answer = table[slot] else { return nil }
        guard let id = answer.attach() else {
            table[slot] = nil
            return nil
        }
        return id
    }

    /// Frees the slot of `answer` (its leader calls it when the answer is stored or failed); a
    /// slot that already holds a newer answer for the key is left alone.
    func remove(_ key: CacheKey, _ answer: InFlightAnswer) {
        inFlight.withLock { table in
            let slot = Slot(key: key, mode: answer.mode)
            if table[slot] === answer { table[slot] = nil }
        }
    }

    public var count: Int { inFlight.withLock { $0.count } }

    /// Clients attached to the answers in flight, joiners included.
    var attachedClients: Int { inFlight.withLock { $0.values.reduce(0) { $0 + $1.attachedCount } } }
}
