import HTTPTypes

/// What the caller may ask of the cache for one request: its headers narrowed by the server's
/// `cache.mode`. The policy answers with values — a `Decision` before the lookup, a `Recovery`
/// after a failed fetch — and never acts itself, so every rule is tested without sockets.
public struct CachePolicy: Sendable, Equatable {
    /// Look the key up before calling upstream.
    public var lookup = true
    /// Store the upstream answer.
    public var store = true
    /// Call the provider on a miss; false for `only-if-cached` and replay mode (504 instead).
    public var fetch = true
    /// Accept a cached answer at most this many seconds old.
    public var maxAge: Int?
    /// `Cache-Control: max-stale[=N]` on an offline request: an expired answer may serve it,
    /// within `cache.stale_if_error_seconds` (and N, when given).
    public var maxStale: Int?
    /// Store for this many seconds (0 = never expires); nil = configured TTL.
    public var ttl: Int?
    public var semantic = true
    public var namespaceName: String?
    /// The mode this request runs in: the server's, or the narrower one it asked for.
    public var mode = CacheMode.readWrite
    /// How many distinct answers the key keeps (`X-Parrot-Samples`, `cache.samples`).
    public var samples = 1
    /// The one sample asked for (`X-Parrot-Sample`), 0-based.
    public var sample: Int?

    public init() {}

    public static let namespaceHeader = HTTPField.Name("X-Parrot-Namespace")!
    public static let ttlHeader = HTTPField.Name("X-Parrot-TTL")!
    public static let semanticHeader = HTTPField.Name("X-Parrot-Semantic")!
    public static let modeHeader = HTTPField.Name("X-Parrot-Cache-Mode")!
    public static let samplesHeader = HTTPField.Name("X-Parrot-Samples")!
    public static let sampleHeader = HTTPField.Name("X-Parrot-Sample")!
    /// The largest sample set a key may hold.
    public static let maxSamples = 16

    /// Reads the request's controls. `serverMode` is `cache.mode`; a request asking for a mode
    /// with a power the server's lacks is refused (400) rather than silently served otherwise.
    public init(headers: HTTPFields, serverMode: CacheMode = .readWrite, samples defaultSamples: Int = 1) throws(ParrotError) {
        mode = serverMode
        samples = defaultSamples
        if let text = headers[Self.samplesHeader] {
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...Self.maxSamples).contains(n) else {
                throw .invalidRequest("X-Parrot-Samples must be an integer from 1 to \(Self.maxSamples), got '\(text)'.", param: nil)
            }
            samples = n
        }
        if let text = headers[Self.sampleHeader] {
            guard let i = Int(text.trimmingCharacters(in: .whitespaces)), (0..<Self.maxSamples).contains(i) else {
                throw .invalidRequest("X-Parrot-Sample must be an integer from 0 to \(Self.maxSamples - 1), got '\(text)'.", param: nil)
            }
            sample = i
        }
        if let requested = headers[Self.modeHeader]?.trimmingCharacters(in: .whitespaces).lowercased(), !requested.isEmpty {
            guard let asked = CacheMode(rawValue: requested) else {
                throw .invalidRequest("X-Parrot-Cache-Mode must be one of \(CacheMode.names), got '\(requested)'.", param: nil)
            }
            guard serverMode.allows(asked) else {
                throw .invalidRequest(
                    "X-Parrot-Cache-Mode: \(asked.rawValue) would widen this server's cache.mode (\(serverMode.rawValue)); a request may only narrow it.",
                    param: nil)
            }
            mode = asked
        }
        lookup = mode.mayServe
        store = mode.mayStore
        fetch = mode.mayFetch
        for value in headers[values: .cacheControl] {
            for directive in value.split(separator: ",") {
                let part = directive.trimmingCharacters(in: .whitespaces).lowercased()
                if part == "no-cache" {
                    lookup = false
                } else if part == "no-store" {
                    lookup = false
                    store = false
                } else if part == "only-if-cached" {
                    fetch = false
                } else if part == "max-stale" {
                    maxStale = Int.max
                } else if part.hasPrefix("max-stale=") {
                    guard let n = Int(part.dropFirst(10)), n >= 0 else {
                        throw .invalidRequest("Cache-Control max-stale must be a non-negative integer", param: nil)
                    }
                    maxStale = n
                } else if part.hasPrefix("max-age=") {
                    guard let n = Int(part.dropFirst(8)), n >= 0 else {
                        throw .invalidRequest("Cache-Control max-age must be a non-negative integer", param: nil)
                    }
                    maxAge = n
                }
            }
        }
        // Offline requests store nothing: nothing is fetched.
        if !fetch { store = false }
        if let ttlText = headers[Self.ttlHeader] {
            guard let n = Int(ttlText.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw .invalidRequest("X-Parrot-TTL must be a non-negative integer number of seconds", param: nil)
            }
            ttl = n
        }
        if let semanticText = headers[Self.semanticHeader]?.lowercased() {
            semantic = !(semanticText == "off" || semanticText == "false" || semanticText == "0")
        }
        if let name = headers[Self.namespaceHeader]?.trimmingCharacters(in: .whitespaces), !name.isEmpty {
            guard name.utf8.count <= 128 else { throw .invalidRequest("X-Parrot-Namespace is longer than 128 bytes", param: nil) }
            namespaceName = name
        }
    }

    /// An offline request: answered from the cache or 504 `cache_miss`, never by the provider.
    public var offline: Bool { !fetch }

    /// The request works on a sample set rather than the key's one answer.
    public var usesSamples: Bool { samples > 1 || sample != nil }

    // MARK: decisions

    /// What to do with a cacheable request before anything is looked up.
    public enum Decision: Sendable, Equatable {
        /// Forward without touching the cache (BYPASS).
        case bypass
        /// Look the key up (memory → store → semantic); on a miss, do `onMiss`.
        case lookUp(onMiss: Miss)
        /// Skip the lookup; fetch, and store as `storage` says (a refresh or a re-record).
        case fetch(Storage)
        /// Neither look up nor fetch: an offline request the cache cannot serve (504).
        case offlineMiss

        /// What becomes of a fetched answer under this decision.
        public var storage: Storage {
            switch self {
            case .lookUp(.fetch(let storage)), .fetch(let storage): storage
            case .bypass, .lookUp(.offlineMiss), .offlineMiss: .discard
            }
        }
    }

    public enum Miss: Sendable, Equatable {
        case fetch(Storage)
        /// Answer 504 `cache_miss`; the provider is never contacted.
        case offlineMiss
    }

    public enum Storage: Sendable, Equatable {
        /// Store a complete, valid answer for this many seconds (0 = never expires).
        case keep(ttlSeconds: Int)
        case discard
    }

    /// - Parameters:
    ///   - cacheEnabled: `cache.enabled`.
    ///   - cacheable: the request names a model and its answer is the request's (a background
    ///     response runs on after the request and is not).
    ///   - configuredTTL: the endpoint's TTL from config.
    public func decision(cacheEnabled: Bool, cacheable: Bool, configuredTTL: Int) -> Decision {
        if !cacheEnabled || mode == .off || !cacheable || (!lookup && !store) {
            return fetch ? .bypass : .offlineMiss
        }
        let storage: Storage = store ? .keep(ttlSeconds: ttl ?? configuredTTL) : .discard
        if !lookup { return fetch ? .fetch(storage) : .offlineMiss }
        return .lookUp(onMiss: fetch ? .fetch(storage) : .offlineMiss)
    }

    /// Whether an expired entry, `expiredFor` seconds past its expiry, may answer an offline
    /// request that said `max-stale`.
    public func acceptsStale(expiredFor seconds: Double, staleIfErrorSeconds: Int) -> Bool {
        guard offline, let maxStale else { return false }
        return seconds <= Double(min(maxStale, staleIfErrorSeconds))
    }

    /// What to do after the provider could not answer.
    public enum Recovery: Sendable, Equatable {
        /// Serve the stale entry the caller found (STALE).
        case serveStale
        /// Call this fallback provider instead, once.
        case tryFallback(String)
        /// Relay the error.
        case fail
    }

    /// Stale (within `cache.stale_if_error_seconds`) first, then the fallback provider, then
    /// the error. Only a provider failure is recovered: an error the client caused, or an
    /// answer Parrot refused, is the client's answer.
    /// - Parameters:
    ///   - staleUsable: a stale entry for this request exists within the window.
    ///   - fallback: the provider's `fallback`, nil or empty when none or already used.
    public static func recovery(after error: ParrotError, staleUsable: Bool, fallback: String?) -> Recovery {
        recovery(providerFailed: isProviderFailure(error), staleUsable: staleUsable, fallback: fallback)
    }

    /// The same rule for a caller that classified its failure itself (the embeddings stage).
    public static func recovery(providerFailed: Bool, staleUsable: Bool, fallback: String?) -> Recovery {
        guard providerFailed else { return .fail }
        if staleUsable { return .serveStale }
        if let fallback, !fallback.isEmpty { return .tryFallback(fallback) }
        return .fail
    }

    /// Failures that say the provider cannot answer now (breaker open, unreachable, timed out,
    /// 5xx or 429 after retries): the ones stale answers and fallbacks exist for.
    public static func isProviderFailure(_ error: ParrotError) -> Bool {
        switch error {
        case .breakerOpen, .upstreamUnreachable, .upstreamTimeout: true
        case .upstreamStatus(let answer): UpstreamHead.isProviderFailure(status: answer.status)
        default: false
        }
    }
}
