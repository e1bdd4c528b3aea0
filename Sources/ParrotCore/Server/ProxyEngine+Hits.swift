import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ProxyEngine {
    // MARK: hits

    /// The fast path for a byte-identical repeat of a recent request whose answer sits in the
    /// memory tier: no JSON parsing, no canonicalisation, no store access. Anything else (not
    /// remembered, not in memory, stale) returns nil and takes the full path.
    func serveRepeat(_ request: Request, endpoint: Endpoint, namespace: String, variant: String, body: ByteBuffer,
                     policy: CachePolicy, started: ContinuousClock.Instant) -> Response? {
        let asker = Asker(endpoint: endpoint, method: request.method, path: request.uri.path, headers: request.headers, started: started)
        return repeatAnswer(asker, namespace: namespace, variant: variant, body: body, policy: policy)?.response
    }

    private func repeatAnswer(_ asker: Asker, namespace: String, variant: String, body: ByteBuffer, policy: CachePolicy,
                              onEventLoop: Bool = false) -> HitAnswer? {
        guard let derived = keyMemo.lookup(endpoint: asker.endpoint, namespace: namespace, variant: variant, body: body),
              let answer = memoryAnswer(derived.key, endpoint: asker.endpoint, streamed: derived.streamed, maxAge: policy.maxAge)
        else { return nil }
        var asker = asker
        asker.streamed = derived.streamed
        asker.includeUsage = derived.includeUsage
        // On an event loop, only answers that need no JSON/SSE conversion.
        if onEventLoop, answer.entry.mode != (derived.streamed ? .sse : .json) { return nil }
        return serve(answer, asker: asker, outcome: .hit, key: derived.key)
    }

    /// A fresh memory-tier answer for this key and mode (`Lookup.inMemory`).
    func memoryAnswer(_ key: CacheKey, endpoint: Endpoint, streamed: Bool, maxAge: Int?) -> CachedAnswer? {
        cacheLookup.inMemory(key, endpoint: endpoint, streamed: streamed, maxAge: maxAge)
    }

    /// The hit path for `ParrotHTTP1Channel`'s channel handler, on the connection's event loop:
    /// a memory-tier answer to a byte-identical repeat, written without entering Swift
    /// concurrency. nil means "not here": the request goes on, unchanged, to `handle`, which
    /// decides everything else (errors included) and counts it there.
    func quickHit(head: HTTPRequest, body: ByteBuffer, started: ContinuousClock.Instant) -> HitAnswer? {
        guard config.cache.enabled, head.method == .post, let path = head.path, let endpoint = Endpoint(rawValue: path) else { return nil }
        guard case .authenticated(let credential) = ClientCredential.authenticate(head.headerFields, clientTokens: clientTokens),
              let policy = try? CachePolicy(headers: head.headerFields, serverMode: cacheMode, samples: config.cache.samples),
              policy.lookup, !policy.usesSamples
        else { return nil }
        let namespace = namespaces.namespace(credential: credential, name: policy.namespaceName)
        let variant = KeyVariant.of(query: nil, headers: head.headerFields, keyInjected: false)
        let asker = Asker(endpoint: endpoint, method: .post, path: path, headers: head.headerFields, started: started)
        guard let answer = repeatAnswer(asker, namespace: namespace, variant: variant, body: body, policy: policy, onEventLoop: true)
        else { return nil }
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
            guard let converted = Self.convert(answer.identityBody, to: wanted, endpoint: call.endpoint, includeUsage: call.includeUsage)
            else { return nil }
            headers.append(HTTPField(name: .contentType, value: wanted == .sse ? "text/event-stream; charset=utf-8" : "application/json"))
            body = converted
        }
        let now = now()
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        headers.append(HTTPField(name: Self.cacheHeader, value: outcome.rawValue))
        headers.append(HTTPField(name: .age, value: String(entry.age(at: now))))
        headers.append(HTTPField(name: Self.keyHeader, value: key.prefix))
        headers.append(HTTPField(name: Self.providerHeader, value: entry.provider))
        if let similarity { headers.append(HTTPField(name: Self.similarityHeader, value: String(format: "%.3f", similarity))) }
        stats.count(outcome, endpoint: call.endpoint)
        stats.recordSaved(model: entry.model, promptTokens: entry.promptTokens, completionTokens: entry.completionTokens,
                          endpoint: call.endpoint)
        tiers.hits.record(entry.key, at: now)  // where it is stored (beside, for some streams)
        let elapsed = ContinuousClock.now - call.started
        if outcome == .hit { stats.hitLatency.record(elapsed) }
        record(method: call.method, path: call.path, status: entry.status, outcome: outcome,
                         provider: entry.provider, model: entry.model, key: key, upstream: nil, total: elapsed,
                         tokens: entry.promptTokens + entry.completionTokens)
        return HitAnswer(status: .init(code: entry.status), headers: headers, body: body)
    }

    /// A complete identity answer in the other mode (`StreamConverter`); nil when it cannot be
    /// converted exactly.
    static func convert(_ identity: ByteBuffer, to wanted: CacheEntry.Mode, endpoint: Endpoint, includeUsage: Bool) -> ByteBuffer? {
        guard endpoint.convertsBetweenModes else { return nil }
        return wanted == .sse
            ? StreamConverter.sse(fromJSON: identity, endpoint: endpoint, includeUsage: includeUsage)
            : StreamConverter.json(fromSSE: identity, endpoint: endpoint)
    }

}
