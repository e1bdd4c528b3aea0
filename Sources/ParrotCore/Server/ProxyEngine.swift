import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The request path of DESIGN.md: parse → policy → memory → store → coalescer → provider guard
/// → upstream, relaying as it arrives and teeing complete answers into the cache.
public final class ProxyEngine: Sendable {
    public let config: ProxyConfig
    let secrets: Secrets
    let router: ModelRouter
    public let providers: [String: Provider]
    public let tiers: CacheTiers
    let coalescer = Coalescer()
    let keyMemo = KeyMemo()
    private let quickHits = Atomic<Int>(0)
    /// Hits answered by `HitFastPathHandler` on an event loop (included in the hit count).
    public var eventLoopHits: Int { quickHits.load(ordering: .relaxed) }
    public let stats: Stats
    let namespaces: NamespaceDeriver
    let logger: Logger
    let accessLog: AccessLog
    let metrics: PrometheusExporter
    public let semantic: SemanticTier?

    init(config: ProxyConfig, secrets: Secrets, providers: [String: Provider], tiers: CacheTiers, stats: Stats,
         namespaces: NamespaceDeriver, semantic: SemanticTier?, metrics: PrometheusExporter, logger: Logger) throws {
        self.config = config
        self.secrets = secrets
        self.router = try ModelRouter(providers: config.providers, defaultProvider: config.server.defaultProvider)
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
    static let tokenHeader = HTTPField.Name("X-Parrot-Token")!
    static let apiKeyHeader = HTTPField.Name("api-key")!
    static let similarityHeader = HTTPField.Name("X-Parrot-Similarity")!

    static func now() -> Double { Date().timeIntervalSince1970 }

    // MARK: entry

    func handle(_ request: Request) async -> Response {
        stats.requests.add(1, ordering: .relaxed)
        let started = ContinuousClock.now
        if !secrets.clientTokens.isEmpty, !isAuthorizedClient(request.headers) {
            return ParrotError.unauthorized("A Parrot client token is required (Authorization: Bearer <token> or X-Parrot-Token).").response
        }
        if request.method == .post, let endpoint = Endpoint(rawValue: request.uri.path) {
            do {
                return try await handleCacheable(request, endpoint: endpoint, started: started)
            } catch {
                return error.response
            }
        }
        return await passThrough(request, started: started)
    }

    private func isAuthorizedClient(_ headers: HTTPFields) -> Bool {
        if let token = headers[Self.tokenHeader], secrets.clientTokens.contains(token) { return true }
        if let auth = headers[.authorization], auth.lowercased().hasPrefix("bearer "),
           secrets.clientTokens.contains(String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)) { return true }
        return false
    }

    /// The caller's credential as it reached Parrot; only ever used as HMAC input.
    private func credential(_ headers: HTTPFields) -> String? {
        headers[.authorization] ?? headers[Self.apiKeyHeader] ?? headers[Self.tokenHeader]
    }

    // MARK: cacheable endpoints

    private func handleCacheable(_ request: Request, endpoint: Endpoint, started: ContinuousClock.Instant) async throws(ParrotError) -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: config.server.maxBodyBytes)
        } catch {
            throw .bodyTooLarge(limit: config.server.maxBodyBytes)
        }
        let policy = try CachePolicy(headers: request.headers)
        if config.cache.enabled, policy.lookup,
           let response = serveRepeat(request, endpoint: endpoint, body: body, policy: policy, started: started) {
            return response
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(body.readableBytesView)
        } catch {
            throw .invalidRequest("Request body is not valid JSON: \(error.description).", param: nil)
        }
        guard case .object = json else { throw .invalidRequest("Request body must be a JSON object.", param: nil) }
        let model = json["model"]?.stringValue
        if let m = json["model"], model == nil, m != .null { throw .invalidRequest("'model' must be a string.", param: "model") }
        if let s = json["stream"], s.boolValue == nil, s != .null { throw .invalidRequest("'stream' must be a boolean.", param: "stream") }
        let streamed = json["stream"]?.boolValue ?? false
        let provider = providers[router.provider(forModel: model)]!
        var call = Call(
            endpoint: endpoint, request: request, body: body, json: json, model: model ?? "", streamed: streamed,
            provider: provider, policy: policy, started: started
        )
        guard config.cache.enabled, policy.store || policy.lookup, model != nil else {
            return await forward(call, outcome: .bypass)
        }
        let namespace = namespaces.namespace(credential: credential(request.headers), name: policy.namespaceName)
        let key = CacheKey(endpoint: endpoint, provider: provider.name, model: call.model, namespace: namespace, body: json, streamed: streamed)
        keyMemo.remember(endpoint: endpoint, namespace: namespace, body: body,
                         derived: .init(key: key, model: call.model, streamed: streamed, includeUsage: call.includeUsage))
        if policy.lookup {
            switch await tiers.lookup(key, now: Self.now(), maxAge: policy.maxAge) {
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
                switch await tiers.lookup(match.key, now: Self.now(), maxAge: policy.maxAge) {
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
    }

    // MARK: hits

    /// The fast path for a byte-identical repeat of a recent request whose answer sits in the
    /// memory tier: no JSON parsing, no canonicalisation, no store access. Anything else (not
    /// remembered, not in memory, stale) returns nil and takes the full path.
    private func serveRepeat(_ request: Request, endpoint: Endpoint, body: ByteBuffer, policy: CachePolicy,
                             started: ContinuousClock.Instant) -> Response? {
        let asker = Asker(endpoint: endpoint, method: request.method, path: request.uri.path, headers: request.headers, started: started)
        return repeatAnswer(asker, body: body, policy: policy)?.response
    }

    private func repeatAnswer(_ asker: Asker, body: ByteBuffer, policy: CachePolicy, onEventLoop: Bool = false) -> HitAnswer? {
        let namespace = namespaces.namespace(credential: credential(asker.headers), name: policy.namespaceName)
        guard let derived = keyMemo.lookup(endpoint: asker.endpoint, namespace: namespace, body: body),
              let answer = tiers.memory.get(derived.key)
        else { return nil }
        let now = Self.now()
        guard answer.entry.isFresh(at: now), policy.maxAge.map({ answer.entry.age(at: now) <= $0 }) ?? true else { return nil }
        var asker = asker
        asker.streamed = derived.streamed
        asker.includeUsage = derived.includeUsage
        // On an event loop, only answers that need no JSON/SSE conversion.
        if onEventLoop, answer.entry.mode != (derived.streamed ? .sse : .json) { return nil }
        return serve(answer, asker: asker, outcome: .hit, key: derived.key)
    }

    /// The hit path for `ParrotHTTP1Channel`'s channel handler, on the connection's event loop:
    /// a memory-tier answer to a byte-identical repeat, written without entering Swift
    /// concurrency. nil means "not here": the request goes on, unchanged, to `handle`, which
    /// decides everything else (errors included) and counts it there.
    func quickHit(head: HTTPRequest, body: ByteBuffer, started: ContinuousClock.Instant) -> HitAnswer? {
        guard config.cache.enabled, head.method == .post, let path = head.path, let endpoint = Endpoint(rawValue: path) else { return nil }
        if !secrets.clientTokens.isEmpty, !isAuthorizedClient(head.headerFields) { return nil }
        guard let policy = try? CachePolicy(headers: head.headerFields), policy.lookup else { return nil }
        let asker = Asker(endpoint: endpoint, method: .post, path: path, headers: head.headerFields, started: started)
        guard let answer = repeatAnswer(asker, body: body, policy: policy, onEventLoop: true) else { return nil }
        stats.requests.add(1, ordering: .relaxed)
        quickHits.add(1, ordering: .relaxed)
        return answer
    }

    /// What `serve` needs to know about the request it answers.
    struct Asker {
        let endpoint: Endpoint
        let method: HTTPRequest.Method
        let path: String
        let headers: HTTPFields
        let started: ContinuousClock.Instant
        var streamed = false
        var includeUsage = false

        var acceptsGzip: Bool {
            headers[values: .acceptEncoding].contains { $0.lowercased().contains("gzip") }
        }
    }

    /// A cached answer ready to write: built once, written either by Hummingbird (as a
    /// `Response`) or by the channel fast path.
    struct HitAnswer {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: ByteBuffer

        var response: Response { Response(status: status, headers: headers, body: .init(byteBuffer: body)) }
    }

    /// Answers from a cached entry, converting between JSON and SSE where the endpoint allows.
    /// Returns nil when the entry cannot serve this request's mode (then it is a miss).
    func serve(_ answer: CachedAnswer, call: Call, outcome: Stats.Outcome, key: CacheKey, similarity: Float? = nil) -> Response? {
        var asker = Asker(endpoint: call.endpoint, method: call.request.method, path: call.request.uri.path,
                          headers: call.request.headers, started: call.started)
        asker.streamed = call.streamed
        asker.includeUsage = call.includeUsage
        return serve(answer, asker: asker, outcome: outcome, key: key, similarity: similarity)?.response
    }

    func serve(_ answer: CachedAnswer, asker call: Asker, outcome: Stats.Outcome, key: CacheKey, similarity: Float? = nil) -> HitAnswer? {
        let entry = answer.entry
        let wanted: CacheEntry.Mode = call.streamed ? .sse : .json
        // Appended, not assigned: each field is new, and assignment searches for an old one.
        var headers = HTTPFields()
        headers.reserveCapacity(8)
        let body: ByteBuffer
        if entry.mode == wanted {
            headers.append(HTTPField(name: .contentType, value: entry.contentType))
            if call.acceptsGzip {
                body = entry.body
                headers.append(HTTPField(name: .contentEncoding, value: "gzip"))
            } else {
                body = answer.identityBody
            }
        } else {
            guard call.endpoint.convertsBetweenModes else { return nil }
            let identity = Array(answer.identityBody.readableBytesView)
            let converted = wanted == .sse
                ? StreamConverter.sse(fromJSON: identity, endpoint: call.endpoint, includeUsage: call.includeUsage)
                : StreamConverter.json(fromSSE: identity, endpoint: call.endpoint)
            guard let converted else { return nil }
            headers.append(HTTPField(name: .contentType, value: wanted == .sse ? "text/event-stream; charset=utf-8" : "application/json"))
            body = ByteBuffer(bytes: converted)
        }
        let now = Self.now()
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        headers.append(HTTPField(name: Self.cacheHeader, value: outcome.rawValue))
        headers.append(HTTPField(name: .age, value: String(entry.age(at: now))))
        headers.append(HTTPField(name: Self.keyHeader, value: key.prefix))
        headers.append(HTTPField(name: Self.providerHeader, value: entry.provider))
        if let similarity { headers.append(HTTPField(name: Self.similarityHeader, value: String(format: "%.3f", similarity))) }
        stats.count(outcome)
        stats.recordSaved(model: entry.model, promptTokens: entry.promptTokens, completionTokens: entry.completionTokens)
        tiers.hits.record(key, at: now)
        let elapsed = ContinuousClock.now - call.started
        if outcome == .hit { stats.hitLatency.record(elapsed) }
        record(method: call.method, path: call.path, status: entry.status, outcome: outcome,
                         provider: entry.provider, model: entry.model, key: key, upstream: nil, total: elapsed,
                         tokens: entry.promptTokens + entry.completionTokens)
        return HitAnswer(status: .init(code: entry.status), headers: headers, body: body)
    }

    // MARK: misses

    /// Joins or leads the one upstream call for `key` and relays it; the leader's fetch stores
    /// the answer if and only if it completed with 2xx and is valid for the endpoint.
    private func fetch(_ call: Call, key: CacheKey, namespace: String, coalesce: Bool, allowFallback: Bool) async -> Response {
        let replayLimit = config.cache.maxEntryBytes
        let joined: (answer: InFlightAnswer, id: Int, leader: Bool)
        if coalesce {
            joined = coalescer.join(key) { InFlightAnswer(replayLimit: replayLimit) }
        } else {
            let answer = InFlightAnswer(replayLimit: replayLimit)
            joined = (answer, answer.attach()!, true)
        }
        let (answer, id) = (joined.answer, joined.id)
        if joined.leader {
            answer.start { [self] answer in
                await self.runUpstream(call, key: key, namespace: namespace, into: answer, registered: coalesce)
            }
        }
        let head = await withTaskCancellationHandler {
            await answer.head()
        } onCancel: {
            answer.detach(id)
        }
        switch head {
        case .failure(let error):
            answer.detach(id)
            if let recovered = await recover(call, key: key, namespace: namespace, after: error, allowFallback: allowFallback) {
                return recovered
            }
            stats.count(.miss)
            record(method: call.request.method, path: call.request.uri.path, status: Int(error.status.code), outcome: .miss,
                             provider: call.provider.name, model: call.model, key: key, upstream: nil,
                             total: ContinuousClock.now - call.started, tokens: 0)
            // Counted as a miss, so labelled as one (DESIGN.md, "Outcomes and how they are counted").
            var response = error.response
            response.headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
            response.headers[Self.keyHeader] = key.prefix
            return response
        case .success(let upstreamHead):
            stats.count(.miss)
            var headers = Self.relayHeaders(upstreamHead)
            headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
            headers[Self.keyHeader] = key.prefix
            headers[Self.providerHeader] = call.provider.name
            let leader = joined.leader
            let body = ResponseBody { [self] writer in
                defer { answer.detach(id) }
                for await event in answer.body(for: id) {
                    switch event {
                    case .chunk(let chunk):
                        try await writer.write(chunk)
                    case .finished:
                        try await writer.finish(nil)
                        let total = ContinuousClock.now - call.started
                        stats.missLatency.record(total)
                        if leader, let upstream = answer.upstreamElapsed {
                            stats.upstreamLatency.record(upstream)
                            metrics.observeUpstream(provider: call.provider.name, duration: upstream)
                            stats.overheadLatency.record(max(.zero, total - upstream))
                        }
                        record(method: call.request.method, path: call.request.uri.path, status: upstreamHead.status,
                                         outcome: .miss, provider: call.provider.name, model: call.model, key: key,
                                         upstream: answer.upstreamElapsed, total: total, tokens: 0)
                        return
                    case .failed(let error):
                        // Closing the connection mid-body is how a client learns the answer was cut.
                        throw error
                    }
                }
                throw ParrotError.upstreamUnreachable(provider: call.provider.name, reason: "relay ended early")
            }
            return Response(status: .init(code: upstreamHead.status), headers: headers, body: body)
        }
    }

    /// The leader's work: call upstream through the guard, publish the answer to every attached
    /// client, and store it when complete and valid.
    private func runUpstream(_ call: Call, key: CacheKey, namespace: String, into answer: InFlightAnswer, registered: Bool) async {
        defer { if registered { coalescer.remove(key, answer) } }
        let upstreamStarted = ContinuousClock.now
        let response: UpstreamResponse
        do {
            response = try await call.provider.guardrail.send(
                upstreamRequest(call.request, provider: call.provider, body: .bytes(call.body)),
                via: call.provider.client, retryable: true, estimatedTokens: call.estimatedTokens,
                deadline: call.started + .milliseconds(config.server.requestTimeoutMs)
            )
        } catch {
            answer.publishHead(.failure(error))
            return
        }
        if response.head.status >= 500 || response.head.status == 429 {
            // Retries are exhausted: let the client path try a stale answer or the fallback
            // before relaying this error as it came.
            var body: [UInt8] = []
            do {
                for try await chunk in response.body where body.count < 1 << 20 { body.append(contentsOf: chunk.readableBytesView) }
            } catch {}
            answer.publishHead(.failure(.upstreamStatus(UpstreamErrorAnswer(status: response.head.status, headers: response.head.headers, body: body))))
            return
        }
        answer.publishHead(.success(response.head))
        let mode: CacheEntry.Mode = (response.head.header("content-type") ?? "").contains("text/event-stream") ? .sse : .json
        var capture: [UInt8]? = response.head.isSuccess && call.policy.store ? [] : nil
        do {
            for try await chunk in response.body {
                if capture != nil {
                    if capture!.count + chunk.readableBytes > config.cache.maxEntryBytes {
                        capture = nil
                    } else {
                        capture!.append(contentsOf: chunk.readableBytesView)
                    }
                }
                answer.publish(chunk)
            }
        } catch {
            answer.upstreamElapsed = ContinuousClock.now - upstreamStarted
            answer.finish(HTTPUpstreamClient.classify(error, provider: call.provider.name))
            return
        }
        answer.upstreamElapsed = ContinuousClock.now - upstreamStarted
        guard let captured = capture else {
            answer.finish()
            return
        }
        let verdict = AnswerInspector.inspect(endpoint: call.endpoint, mode: mode, body: captured)
        guard verdict.storable, let compressed = try? Gzip.compress(ByteBuffer(bytes: captured)) else {
            logger.debug("answer not stored", metadata: ["key": "\(key.prefix)", "reason": "\(verdict.reason)"])
            answer.finish()
            return
        }
        call.provider.guardrail.recordUsage(estimated: call.estimatedTokens, actual: verdict.promptTokens + verdict.completionTokens)
        let now = Self.now()
        let ttl = call.policy.ttl ?? config.cache.endpointTTLSeconds[call.endpoint.configName] ?? config.cache.ttlSeconds
        let entry = CacheEntry(
            key: key, namespace: namespace, endpoint: call.endpoint.rawValue, provider: call.provider.name, model: call.model,
            mode: mode, status: response.head.status, contentType: response.head.header("content-type") ?? "application/json",
            body: compressed, rawBytes: captured.count, createdAt: now, expiresAt: ttl == 0 ? nil : now + Double(ttl),
            promptTokens: verdict.promptTokens, completionTokens: verdict.completionTokens, semantic: call.probe?.record
        )
        let cached = CachedAnswer(entry: entry, identityBody: ByteBuffer(bytes: captured))
        // The next identical request to this instance must be a HIT: once the answer is in the
        // memory tier the clients may finish before the store write; without the memory tier
        // (off, or the answer is larger than it) they finish after it.
        let persisted: Bool
        if tiers.memory.put(cached) {
            if registered { coalescer.remove(key, answer) }
            answer.finish()
            persisted = await tiers.persist(cached)
        } else {
            persisted = await tiers.persist(cached)
            if registered { coalescer.remove(key, answer) }
            answer.finish()
        }
        if persisted, let record = call.probe?.record {
            semantic?.insert(key: key, record)
        }
    }

    /// When the provider cannot answer (breaker open, retries exhausted): a stale entry within
    /// `cache.stale_if_error_seconds`, then the fallback provider, in that order. nil: neither.
    private func recover(_ call: Call, key: CacheKey, namespace: String, after error: ParrotError, allowFallback: Bool) async -> Response? {
        switch error {
        case .breakerOpen, .upstreamUnreachable, .upstreamTimeout, .upstreamStatus: break
        default: return nil
        }
        if case .upstreamStatus(let answer) = error, answer.status < 500, answer.status != 429 { return nil }
        if config.cache.enabled, call.policy.store || call.policy.lookup {
            let now = Self.now()
            switch await tiers.lookup(key, now: now, maxAge: nil) {
            case .hit(let answer), .expired(let answer):
                let staleUntil = (answer.entry.expiresAt ?? .infinity) + Double(config.cache.staleIfErrorSeconds)
                if now <= staleUntil, let response = serve(answer, call: call, outcome: .stale, key: key) {
                    logger.notice("served stale answer", metadata: ["provider": "\(call.provider.name)", "key": "\(key.prefix)"])
                    return response
                }
            case .miss, .storeFailed:
                break
            }
        }
        guard allowFallback, !call.provider.config.fallback.isEmpty, let fallback = providers[call.provider.config.fallback] else { return nil }
        logger.notice("routing to fallback provider", metadata: ["provider": "\(call.provider.name)", "fallback": "\(fallback.name)"])
        var fallbackCall = call.with(provider: fallback)
        fallbackCall.probe = nil  // the scope names the provider: the primary's embedding does not apply
        // A fallback's answer is stored under the fallback's own key, never the primary's.
        let fallbackKey = CacheKey(endpoint: call.endpoint, provider: fallback.name, model: call.model, namespace: namespace,
                                   body: call.json, streamed: call.streamed)
        // ...and that key is where a repeat finds it while the primary is still down.
        if config.cache.enabled, call.policy.lookup,
           case .hit(let cached) = await tiers.lookup(fallbackKey, now: Self.now(), maxAge: call.policy.maxAge),
           let response = serve(cached, call: fallbackCall, outcome: .hit, key: fallbackKey) {
            return response
        }
        return await fetch(fallbackCall, key: fallbackKey, namespace: namespace, coalesce: call.policy.lookup, allowFallback: false)
    }

    // MARK: uncached forwarding

    /// Forwards a cacheable-endpoint request without touching the cache (`no-store`, cache
    /// disabled, store down).
    private func forward(_ call: Call, outcome: Stats.Outcome) async -> Response {
        stats.count(outcome)
        let request = upstreamRequest(call.request, provider: call.provider, body: .bytes(call.body))
        return await relay(request, provider: call.provider, retryable: true, estimatedTokens: call.estimatedTokens,
                           started: call.started, outcome: outcome, method: call.request.method, path: call.request.uri.path, model: call.model)
    }

    /// Any other `/v1/*` path and method: never cached; only GET is retried. The answer streams;
    /// the request body is read whole first (up to `server.max_body_bytes`): streamed to the
    /// upstream client instead, it could still be read by that client's task when the answer is
    /// done and Hummingbird reads the connection for the next request, two readers of one
    /// stream, which traps and takes the process down.
    private func passThrough(_ request: Request, started: ContinuousClock.Instant) async -> Response {
        guard request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" else {
            return ParrotError.notFound(path: request.uri.path).response
        }
        let provider = providers[router.defaultProvider]!
        let length = request.headers[.contentLength].flatMap(Int.init)
        let hasBody = length.map { $0 > 0 } ?? (request.headers[.transferEncoding] != nil)
        // RFC 9110 §9.3.8; the upstream client refuses it, and that refusal must not read as
        // the provider failing (a 502 and a breaker failure any client could provoke).
        if request.method == .trace, hasBody {
            return ParrotError.invalidRequest("A TRACE request cannot carry a body.", param: nil).response
        }
        var body = UpstreamRequest.Body.none
        if hasBody {
            var request = request
            do {
                body = .bytes(try await request.collectBody(upTo: config.server.maxBodyBytes))
            } catch {
                return ParrotError.bodyTooLarge(limit: config.server.maxBodyBytes).response
            }
        }
        return await relay(upstreamRequest(request, provider: provider, body: body), provider: provider,
                           retryable: request.method == .get, estimatedTokens: 0, started: started, outcome: nil,
                           method: request.method, path: request.uri.path, model: "")
    }

    private func relay(_ request: UpstreamRequest, provider: Provider, retryable: Bool, estimatedTokens: Int, started: ContinuousClock.Instant,
                       outcome: Stats.Outcome?, method: HTTPRequest.Method, path: String, model: String) async -> Response {
        let response: UpstreamResponse
        do {
            response = try await provider.guardrail.send(request, via: provider.client, retryable: retryable,
                                                         estimatedTokens: estimatedTokens, deadline: started + .milliseconds(config.server.requestTimeoutMs))
        } catch {
            return error.response
        }
        var headers = Self.relayHeaders(response.head)
        if let outcome { headers[Self.cacheHeader] = outcome.rawValue }
        headers[Self.providerHeader] = provider.name
        let upstreamBody = response.body
        let status = response.head.status
        return Response(status: .init(code: status), headers: headers, body: ResponseBody { [self] writer in
            for try await chunk in upstreamBody {
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
            record(method: method, path: path, status: status, outcome: outcome, provider: provider.name,
                             model: model, key: nil, upstream: nil, total: ContinuousClock.now - started, tokens: 0)
        })
    }

    // MARK: headers

    /// Client headers that go upstream: end-to-end ones only, without Parrot's own controls,
    /// with the provider's key injected when one is configured.
    func upstreamRequest(_ request: Request, provider: Provider, body: UpstreamRequest.Body) -> UpstreamRequest {
        let connectionTokens = Set(request.headers[values: .connection].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        var headers: [(String, String)] = []
        headers.reserveCapacity(request.headers.count)
        for field in request.headers {
            let name = field.name.canonicalName
            if HopByHop.isHopByHop(name, connectionTokens: connectionTokens) || name.hasPrefix("x-parrot-") || name == "cache-control" {
                continue
            }
            if provider.apiKey != nil, name == "authorization" || name == "api-key" { continue }
            headers.append((field.name.rawName, field.value))
        }
        if let key = provider.apiKey { headers.append(("authorization", "Bearer \(key)")) }
        if case .bytes(let buffer) = body { headers.append(("content-length", String(buffer.readableBytes))) }
        return UpstreamRequest(method: request.method, url: provider.url(path: request.uri.path, query: request.uri.query),
                               headers: headers, body: body)
    }

    static func relayHeaders(_ head: UpstreamHead) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in head.headers {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return fields
    }
}
