/// `cache.mode` (`PARROT_CACHE_MODE`) and `X-Parrot-Cache-Mode`: which of the cache's three
/// powers (serve from it, store into it, call the provider on a miss) a request may use.
/// A request may only narrow the server's mode: a mode is allowed when each power it needs is
/// one the server's mode has.
public enum CacheMode: String, Sendable, CaseIterable, Equatable {
    case readWrite = "read_write"
    /// Look up, never store.
    case readOnly = "read_only"
    /// Never serve from the cache; always fetch and store (a re-record).
    case writeOnly = "write_only"
    /// Every request behaves as `Cache-Control: only-if-cached`: no live call, ever.
    case replay
    /// The cache is not used at all (BYPASS).
    case off

    public var mayServe: Bool { self == .readWrite || self == .readOnly || self == .replay }
    public var mayStore: Bool { self == .readWrite || self == .writeOnly }
    public var mayFetch: Bool { self != .replay }

    /// Whether a request asking for `requested` stays within this mode's powers.
    public func allows(_ requested: CacheMode) -> Bool {
        (mayServe || !requested.mayServe) && (mayStore || !requested.mayStore) && (mayFetch || !requested.mayFetch)
    }

    public static let names = allCases.map(\.rawValue).joined(separator: " | ")
}
