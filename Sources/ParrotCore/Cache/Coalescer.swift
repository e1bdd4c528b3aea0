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
            if let existing = table[Slot(key: key, mode: mode)], let id = existing.attach() {
                return .joined(existing, id: id, converting: false)
            }
            if otherModeJoinable, let other = table[Slot(key: key, mode: mode.other)], let id = other.attach() {
                return .joined(other, id: id, converting: true)
            }
            if let cached = recheck() { return .cached(cached) }
            let answer = make()
            table[Slot(key: key, mode: mode)] = answer
            return .lead(answer, id: answer.attach()!)
        }
    }

    func remove(_ key: CacheKey, _ answer: InFlightAnswer) {
        inFlight.withLock { table in
            let slot = Slot(key: key, mode: answer.mode)
            if table[slot] === answer { table[slot] = nil }
        }
    }

    public var count: Int { inFlight.withLock { $0.count } }
}
