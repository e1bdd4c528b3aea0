import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The request path of DESIGN.md: parse → policy → memory → store → coalescer → provider guard
/// → upstream, relaying as it arrives and teeing complete answers into the cache. Hits are in
/// `ProxyEngine+Hits.swift`, misses (coalescing, the leader's fetch, recovery) in
/// `ProxyEngine+Miss.swift`, uncached forwarding in `ProxyEngine+Forward.swift`.
public final class ProxyEngine: Sendable {
    public let config: ProxyConfig
    let secrets: Secrets
    /// The client tokens as bytes: credentials are compared as they arrived (`ClientCredential`).
    let clientTokens: Set<[UInt8]>
    let router: ModelRouter
    /// Host, Origin, method and path rules, asked before anything else by both request paths.
    let screen: RequestScreen
    public let providers: [String: Provider]
    public let tiers: CacheTiers
    let coalescer = Coalescer()
    let embeddingInFlight = EmbeddingInFlight()
    let keyMemo = KeyMemo()
    let quickHits = Atomic<Int>(0)
    /// Hits answered by `HitFastPathHandler` on an event loop (included in the hit count).
    public var eventLoopHits: Int { quickHits.load(ordering: .relaxed) }
    public let stats: Stats
    let namespaces: NamespaceDeriver
    let logger: Logger
    let accessLog: AccessLog
    let metrics: PrometheusExporter
    public let semantic: SemanticTier?
    let clock: any ParrotClock

    init(config: ProxyConfig, secrets: Secrets, providers: [String: Provider], tiers: CacheTiers, stats: Stats,
         namespaces: NamespaceDeriver, semantic: SemanticTier?, metrics: PrometheusExporter, logger: Logger,
         clock: any ParrotClock = SystemClock()) throws {
        self.clock = clock
        self.config = config
        self.secrets = secrets
        self.clientTokens = Set(secrets.clientTokens.map { Array($0.utf8) })
        self.router = try ModelRouter(providers: config.providers, defaultProvider: config.server.defaultProvider)
        self.screen = RequestScreen(config: config.server)
        self.providers = providers
        self.tiers = tiers
        self.stats = stats
        self.namespaces = namespaces
        self.semantic = semantic
        self.logger = logger
        self.accessLog = AccessLog(logger: logger)
        self.metrics = metrics
    }

    /// The Record stage: once per request, after its body was written — the duration histogram
    /// and the access line.
    func record(method: HTTPRequest.Method, path: String, status: Int, outcome: Stats.Outcome?, provider: String,
                model: String, key: CacheKey?, upstream: Duration?, total: Duration, tokens: Int) {
        metrics.observeRequest(outcome: outcome, duration: total)
        accessLog.record(method: method, path: path, status: status, outcome: outcome, provider: provider,
                         model: model, key: key, upstream: upstream, total: total, tokens: tokens)
    }

    static let cacheHeader = HTTPField.Name("X-Parrot-Cache")!
    static let keyHeader = HTTPField.Name("X-Parrot-Key")!
    static let providerHeader = HTTPField.Name("X-Parrot-Provider")!
    static let similarityHeader = HTTPField.Name("X-Parrot-Similarity")!

    /// Wall-clock seconds, from the clock seam (TTL, Age, max-age, stale windows).
    func now() -> Double { clock.now }

    /// Model names end up in stats, logs and cache entries: a client may not make them large.
    static let maxModelBytes = 256

    // MARK: entry

    func handle(_ request: Request) async -> Response {
        stats.requests.add(1, ordering: .relaxed)
        let started = ContinuousClock.now
        let credential: [UInt8]?
        switch ClientCredential.authenticate(request.headers, clientTokens: clientTokens) {
        case .refused(let reason): return ParrotError.unauthorized(reason).response
        case .authenticated(let bytes): credential = bytes
        }
        if request.method == .post, let endpoint = Endpoint(rawValue: request.uri.path) {
            do {
                return try await handleCacheable(request, endpoint: endpoint, credential: credential, started: started)
            } catch {
                return error.response
            }
        }
        return await passThrough(request, started: started)
    }

    // MARK: cacheable endpoints

    private func handleCacheable(_ request: Request, endpoint: Endpoint, credential: [UInt8]?,
                                 started: ContinuousClock.Instant) async throws(ParrotError) -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: config.server.maxBodyBytes)
        } catch {
            throw .bodyTooLarge(limit: config.server.maxBodyBytes)
        }
        let policy = try CachePolicy(headers: request.headers)
        let namespace = namespaces.namespace(credential: credential, name: policy.namespaceName)
        let memoVariant = KeyVariant.of(query: request.uri.query, headers: request.headers, keyInjected: false)
        if config.cache.enabled, policy.lookup,
           let response = serveRepeat(request, endpoint: endpoint, namespace: namespace, variant: memoVariant, body: body,
                                      policy: policy, started: started) {
            return response
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(body.readableBytesView)
        } catch {
            throw .invalidRequest("Request body is not valid JSON (or names a member twice): \(error.description).", param: nil)
        }
        guard case .object = json else { throw .invalidRequest("Request body must be a JSON object.", param: nil) }
        let model = json["model"]?.stringValue
        if let m = json["model"], model == nil, m != .null { throw .invalidRequest("'model' must be a string.", param: "model") }
        if let model, model.utf8.count > Self.maxModelBytes {
            throw .invalidRequest("'model' is longer than \(Self.maxModelBytes) bytes.", param: "model")
        }
        if let s = json["stream"], s.boolValue == nil, s != .null { throw .invalidRequest("'stream' must be a boolean.", param: "stream") }
        let streamed = json["stream"]?.boolValue ?? false
        let provider = providers[router.provider(forModel: model)]!
        var call = Call(
            endpoint: endpoint, request: request, body: body, json: json, model: model ?? "", streamed: streamed,
            provider: provider, policy: policy, started: started
        )
        // Background responses run on after the request; their answer is not the request's.
        let background = endpoint == .responses && json["background"]?.boolValue == true
        guard config.cache.enabled, policy.store || policy.lookup, model != nil, !background else {
            return await forward(call, outcome: .bypass)
        }
        if endpoint == .embeddings, let response = await embeddingsBatch(call, namespace: namespace) { return response }
        // The key's variant differs from the memo's only by the organization and project headers
        // Parrot drops when it injects its key: no second pass over the headers otherwise.
        let variant = memoVariant.isEmpty || provider.apiKey == nil
            ? memoVariant : KeyVariant.of(query: request.uri.query, headers: request.headers, keyInjected: true)
        let key = CacheKey(endpoint: endpoint, provider: provider.name, model: call.model, namespace: namespace, body: json,
                           streamed: streamed, variant: variant)
        keyMemo.remember(endpoint: endpoint, namespace: namespace, variant: memoVariant, body: body,
                         derived: .init(key: key, model: call.model, streamed: streamed, includeUsage: call.includeUsage))
        if policy.lookup {
            switch await lookup(key, for: call, maxAge: policy.maxAge) {
            case .hit(let answer):
                if let response = serve(answer, call: call, outcome: .hit, key: key) { return response }
            case .storeFailed:
                return await forward(call, outcome: .bypass)
            case .expired, .miss:
                break
            }
        }
        if let semantic, semantic.isEligible(endpoint: endpoint, body: json, policy: policy) {
            call.probe = await semantic.probe(endpoint: endpoint, provider: provider.name, model: call.model,
                                              namespace: namespace, body: json, streamed: streamed)
            if policy.lookup, let probe = call.probe, let match = semantic.search(probe) {
                switch await tiers.lookup(match.key, now: now(), maxAge: policy.maxAge) {
                case .hit(let answer):
                    if let response = serve(answer, call: call, outcome: .semantic, key: match.key, similarity: match.similarity) {
                        return response
                    }
                case .miss:
                    semantic.index.remove(match.key)  // evicted or cleared since it was indexed
                case .expired, .storeFailed:
                    break
                }
            }
        }
        return await fetch(call, key: key, namespace: namespace, coalesce: policy.lookup, allowFallback: true)
    }

    /// The exact-tier lookup for one request: its key, and for a streamed request on an endpoint
    /// that converts, the stream stored beside it (a chat stream without `usage`, which cannot
    /// answer a plain request). An entry of the other mode that cannot serve this request is a
    /// miss here, so the fresh answer is fetched and stored.
    func lookup(_ key: CacheKey, for call: Call, maxAge: Int?) async -> CacheTiers.Lookup {
        let first = await tiers.lookup(key, now: now(), maxAge: maxAge)
        switch first {
        case .hit(let answer), .expired(let answer):
            if Self.canServe(answer.entry, endpoint: call.endpoint, streamed: call.streamed) { return first }
        case .miss, .storeFailed:
            break
        }
        guard call.streamed, call.endpoint.convertsBetweenModes else {
            if case .storeFailed = first { return first }
            return .miss
        }
        return await tiers.lookup(key.besideForStreams, now: now(), maxAge: maxAge)
    }

    /// Whether a stored entry can answer a request of this mode: its own mode always; the other
    /// mode only where the endpoint converts, and a stream becomes JSON only when it carries
    /// `usage`.
    static func canServe(_ entry: CacheEntry, endpoint: Endpoint, streamed: Bool) -> Bool {
        let wanted: CacheEntry.Mode = streamed ? .sse : .json
        if entry.mode == wanted { return true }
        guard endpoint.convertsBetweenModes else { return false }
        return wanted == .sse || entry.promptTokens + entry.completionTokens > 0
    }

    /// Everything about one cacheable request that the later steps need.
    struct Call: Sendable {
        let endpoint: Endpoint
        let request: Request
        let body: ByteBuffer
        let json: JSONValue
        let model: String
        let streamed: Bool
        let provider: Provider
        let policy: CachePolicy
        let started: ContinuousClock.Instant
        /// The request's embedding when the semantic tier is on; stored beside the answer.
        var probe: SemanticTier.Probe?

        /// Prompt characters / 4 plus the requested completion budget: a documented, cheap
        /// estimate for the TPM bucket, corrected from `usage` when the answer arrives.
        var estimatedTokens: Int {
            var characters = 0
            func walk(_ value: JSONValue) {
                switch value {
                case .string(let s): characters += s.utf8.count
                case .array(let items): items.forEach(walk)
                case .object(let members): members.forEach { walk($0.1) }
                default: break
                }
            }
            for field in ["messages", "prompt", "input", "instructions"] { json[field].map(walk) }
            let budget = json["max_completion_tokens"]?.intValue ?? json["max_tokens"]?.intValue ?? json["max_output_tokens"]?.intValue ?? 0
            return characters / 4 + 1 + max(0, budget)
        }

        func with(provider: Provider) -> Call {
            Call(endpoint: endpoint, request: request, body: body, json: json, model: model, streamed: streamed,
                 provider: provider, policy: policy, started: started)
        }

        var includeUsage: Bool { json["stream_options"]?["include_usage"]?.boolValue ?? false }
        var mode: CacheEntry.Mode { streamed ? .sse : .json }
    }
}
