import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The request path of DESIGN.md ("One request, end to end"), one stage per type, data flowing
/// one way: `Intake` (Server/) → `CachePolicy` (Cache/; a `Decision`, and a `Recovery` after a
/// failed fetch) → `Lookup` (Cache/; memory → store, then the semantic tier) → `Coalescer` /
/// `InFlightAnswer` (Cache/) → `GuardedUpstream` (Providers/) → relay (`ProxyEngine+Relay`) and
/// `CacheCommit` (Cache/) → `Recorder` (Observability/). This type wires them: hits are served in
/// `ProxyEngine+Hits.swift`, misses led and recovered in `ProxyEngine+Miss.swift`, sample sets in
/// `ProxyEngine+Samples.swift`, uncached forwarding in `ProxyEngine+Forward.swift`.
public final class ProxyEngine: Sendable {
    public let config: ProxyConfig
    let secrets: Secrets
    /// The client tokens as bytes: credentials are compared as they arrived (`ClientCredential`).
    let clientTokens: Set<[UInt8]>
    let router: ModelRouter
    let intake: Intake
    /// Host, Origin, method and path rules, asked before anything else by both request paths.
    let screen: RequestScreen
    public let providers: [String: Provider]
    public let tiers: CacheTiers
    let coalescer = Coalescer()
    let embeddingInFlight = EmbeddingInFlight()
    let keyMemo = KeyMemo()
    let cacheLookup: Lookup
    /// `cache.mode`, parsed once (both request paths read it).
    let cacheMode: CacheMode
    let cacheCommit: CacheCommit
    let sampleRotation = SampleRotation()
    let quickHits = Atomic<Int>(0)
    /// Hits answered by `HitFastPathHandler` on an event loop (included in the hit count).
    public var eventLoopHits: Int { quickHits.load(ordering: .relaxed) }
    public let stats: Stats
    let namespaces: NamespaceDeriver
    let logger: Logger
    let recorder: Recorder
    let metrics: PrometheusExporter
    public let semantic: SemanticTier?
    let clock: any ParrotClock

    init(config: ProxyConfig, secrets: Secrets, providers: [String: Provider], tiers: CacheTiers, stats: Stats,
         namespaces: NamespaceDeriver, semantic: SemanticTier?, metrics: PrometheusExporter, logger: Logger,
         clock: any ParrotClock = SystemClock()) throws {
        self.clock = clock
        self.cacheLookup = Lookup(tiers: tiers, clock: clock)
        self.cacheMode = config.cache.cacheMode
        self.config = config
        self.secrets = secrets
        self.clientTokens = Set(secrets.clientTokens.map { Array($0.utf8) })
        self.router = try ModelRouter(providers: config.providers, defaultProvider: config.server.defaultProvider)
        self.intake = Intake(router: router, providers: providers)
        self.screen = RequestScreen(config: config.server)
        self.providers = providers
        self.tiers = tiers
        self.stats = stats
        self.namespaces = namespaces
        self.semantic = semantic
        self.logger = logger
        self.recorder = Recorder(metrics: metrics, accessLog: AccessLog(logger: logger))
        self.cacheCommit = CacheCommit(tiers: tiers, coalescer: coalescer, semantic: semantic, clock: clock, logger: logger)
        self.metrics = metrics
    }

    /// The Record stage (`Recorder`).
    func record(method: HTTPRequest.Method, path: String, status: Int, outcome: Stats.Outcome?, provider: String,
                model: String, key: CacheKey?, upstream: Duration?, total: Duration, tokens: Int) {
        recorder.record(method: method, path: path, status: status, outcome: outcome, provider: provider, model: model,
                        key: key, upstream: upstream, total: total, tokens: tokens)
    }

    static let cacheHeader = HTTPField.Name("X-Parrot-Cache")!
    static let keyHeader = HTTPField.Name("X-Parrot-Key")!
    static let providerHeader = HTTPField.Name("X-Parrot-Provider")!
    static let similarityHeader = HTTPField.Name("X-Parrot-Similarity")!

    /// Wall-clock seconds, from the clock seam (TTL, Age, max-age, stale windows).
    func now() -> Double { clock.now }

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

    /// Intake (body, policy, parse, route), then the policy's decision, then the lookup and, on
    /// a miss, the fetch. Each step hands the next a value; none calls back into an earlier one.
    private func handleCacheable(_ request: Request, endpoint: Endpoint, credential: [UInt8]?,
                                 started: ContinuousClock.Instant) async throws(ParrotError) -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: config.server.maxBodyBytes)
        } catch {
            throw .bodyTooLarge(limit: config.server.maxBodyBytes)
        }
        let policy = try CachePolicy(headers: request.headers, serverMode: cacheMode, samples: config.cache.samples)
        let namespace = namespaces.namespace(credential: credential, name: policy.namespaceName)
        let memoVariant = KeyVariant.of(query: request.uri.query, headers: request.headers, keyInjected: false)
        if config.cache.enabled, policy.lookup, !policy.usesSamples,
           let response = serveRepeat(request, endpoint: endpoint, namespace: namespace, variant: memoVariant, body: body,
                                      policy: policy, started: started) {
            return response
        }
        var call = try intake.call(request, endpoint: endpoint, body: body, policy: policy, started: started)
        let decision = policy.decision(
            cacheEnabled: config.cache.enabled, cacheable: call.cacheable,
            configuredTTL: config.cache.endpointTTLSeconds[endpoint.configName] ?? config.cache.ttlSeconds)
        if case .bypass = decision { return await forward(call, outcome: .bypass) }
        call.storage = decision.storage
        // Embeddings batches are cached per input (their own stage).
        if endpoint == .embeddings, decision != .offlineMiss,
           let response = await embeddingsBatch(call, namespace: namespace, fetchAllowed: policy.fetch) {
            return response
        }
        let provider = call.provider
        // The key's variant differs from the memo's only by the organization and project headers
        // Parrot drops when it injects its key: no second pass over the headers otherwise.
        let variant = memoVariant.isEmpty || provider.apiKey == nil
            ? memoVariant : KeyVariant.of(query: request.uri.query, headers: request.headers, keyInjected: true)
        let key = CacheKey(endpoint: endpoint, provider: provider.name, model: call.model, namespace: namespace, body: call.json,
                           streamed: call.streamed, variant: variant)
        keyMemo.remember(endpoint: endpoint, namespace: namespace, variant: memoVariant, body: body,
                         derived: .init(key: key, model: call.model, streamed: call.streamed, includeUsage: call.includeUsage))
        if policy.usesSamples { return await sampled(call, key: key, namespace: namespace, decision: decision) }
        return await answer(call, key: key, namespace: namespace, decision: decision, semantic: true)
    }

    /// Carries out the policy's decision for one key (`call.storage` is already the decision's):
    /// serve it from the cache, fetch it, or refuse it offline. The semantic tier (when `semantic`) is asked after an exact miss, and
    /// embeds a request whose fresh answer will be stored.
    func answer(_ call: Call, key: CacheKey, namespace: String, decision: CachePolicy.Decision, semantic: Bool) async -> Response {
        var call = call
        let policy = call.policy
        switch decision {
        case .bypass:
            return await forward(call, outcome: .bypass)
        case .offlineMiss:
            return offlineMiss(call, key: key, reason: Self.offlineReason(policy))
        case .fetch(let storage):
            if semantic, case .keep = storage { _ = await semanticAnswer(&call, namespace: namespace) }  // embeds it, to index the answer
            return await miss(call, key: key, namespace: namespace, coalesce: false)
        case .lookUp(let onMiss):
            var expired: CachedAnswer?
            switch await lookup(key, for: call, maxAge: policy.maxAge) {
            case .hit(let answer):
                if let response = serve(answer, call: call, outcome: .hit, key: key) { return response }
            case .storeFailed:
                if case .offlineMiss = onMiss { return offlineMiss(call, key: key, reason: "the cache store is unreachable") }
                return await forward(call, outcome: .bypass)
            case .expired(let answer):
                expired = answer
            case .miss:
                break
            }
            if semantic, let response = await semanticAnswer(&call, namespace: namespace) { return response }
            switch onMiss {
            case .fetch:
                return await miss(call, key: key, namespace: namespace, coalesce: true)
            case .offlineMiss:
                if let expired, policy.acceptsStale(expiredFor: now() - (expired.entry.expiresAt ?? now()),
                                                    staleIfErrorSeconds: config.cache.staleIfErrorSeconds),
                   let response = serve(expired, call: call, outcome: .stale, key: key) {
                    return response
                }
                return offlineMiss(call, key: key, reason: Self.offlineReason(policy))
            }
        }
    }

    /// The semantic tier, after an exact miss: embeds the request (the embedding is kept on the
    /// call and stored beside a fresh answer) and serves a close enough answer. Offline
    /// requests skip it: embedding the request would be a live call.
    func semanticAnswer(_ call: inout Call, namespace: String) async -> Response? {
        guard let semantic, !call.policy.offline,
              semantic.isEligible(endpoint: call.endpoint, body: call.json, policy: call.policy) else { return nil }
        call.probe = await semantic.probe(endpoint: call.endpoint, provider: call.provider.name, model: call.model,
                                          namespace: namespace, body: call.json, streamed: call.streamed)
        guard call.policy.lookup, let probe = call.probe,
              let found = await cacheLookup.similar(probe, in: semantic, maxAge: call.policy.maxAge, samples: call.policy.samples,
                                                    rotation: sampleRotation)
        else { return nil }
        return serve(found.answer, call: call, outcome: .semantic, key: found.key, similarity: found.similarity)
    }

    /// 504 `cache_miss` for an offline request the cache cannot answer. Counted as an offline
    /// miss with the tokens and cost it would have taken (the dry run), never as a miss.
    func offlineMiss(_ call: Call, key: CacheKey, reason: String) -> Response {
        let estimate = call.tokenEstimate
        stats.recordOfflineMiss(model: call.model, promptTokens: estimate.prompt, completionTokens: estimate.completion)
        record(method: call.request.method, path: call.request.uri.path, status: 504, outcome: .miss, provider: call.provider.name,
               model: call.model, key: key, upstream: nil, total: ContinuousClock.now - call.started, tokens: 0)
        var response = ParrotError.cacheMiss(model: call.model, keyPrefix: key.prefix, reason: reason).response
        response.headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
        response.headers[Self.keyHeader] = key.prefix
        return response
    }

    static func offlineReason(_ policy: CachePolicy) -> String {
        policy.mode == .replay ? "cache.mode is replay" : "the request said Cache-Control: only-if-cached"
    }

    /// The Lookup stage for one request's key and mode.
    func lookup(_ key: CacheKey, for call: Call, maxAge: Int?) async -> CacheTiers.Lookup {
        await cacheLookup.find(key, endpoint: call.endpoint, streamed: call.streamed, maxAge: maxAge)
    }
}
