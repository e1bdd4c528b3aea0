import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ProxyEngine {
    // MARK: embeddings, cached per input

    static let cachedInputsHeader = HTTPField.Name("X-Parrot-Cached-Inputs")!

    /// `POST /v1/embeddings` cached per input (DESIGN.md, "Cache modes, embeddings batches,
    /// sample sets"): each input's vector is its own entry; the cached ones are served from the
    /// cache, the missing ones fetched in one upstream request per `maxInputsPerRequest`
    /// (inputs another batch is fetching are waited for, not fetched again), and the answer is
    /// assembled in the request's order and encoding. `X-Parrot-Cache` is HIT, MISS or PARTIAL,
    /// `X-Parrot-Cached-Inputs` counts positions.
    ///
    /// Returns nil when `input` is not a shape it splits; the whole-request path takes those.
    /// - Parameter fetchAllowed: false (replay mode) answers 504 `cache_miss` when any input is
    ///   missing, and fetches nothing.
    func embeddingsBatch(_ call: Call, namespace: String, fetchAllowed: Bool = true, allowFallback: Bool = true) async -> Response? {
        guard let inputs = EmbeddingBatch.inputs(of: call.json) else { return nil }
        let provider = call.provider
        let variant = KeyVariant.of(query: call.request.uri.query, headers: call.request.headers, keyInjected: provider.apiKey != nil)
        let parameters = EmbeddingBatch.keyedParameters(of: call.json)
        let keys = inputs.map {
            CacheKey(embeddingInput: $0, provider: provider.name, model: call.model, namespace: namespace, parameters: parameters,
                     variant: variant)
        }
        var inputOf: [CacheKey: EmbeddingInput] = [:]
        for (key, input) in zip(keys, inputs) { inputOf[key] = input }
        let distinct = EmbeddingBatch.distinct(keys)

        var cached: [CacheKey: ServedInput] = [:]
        var expired: [CacheKey: (served: ServedInput, entry: CacheEntry)] = [:]
        if call.policy.lookup {
            guard let found = await lookUpInputs(distinct, maxAge: call.policy.maxAge) else {
                return await forward(call, outcome: .bypass)
            }
            (cached, expired) = found
        }
        let missing = distinct.filter { cached[$0] == nil }
        if !missing.isEmpty, !fetchAllowed {
            let estimate = call.tokenEstimate
            stats.recordOfflineMiss(model: call.model, promptTokens: estimate.prompt, completionTokens: estimate.completion)
            let response = Self.inputsNotCached(missing: missing.count, cached: keys.count - keys.filter { cached[$0] == nil }.count,
                                                total: keys.count, model: call.model, reason: Self.offlineReason(call.policy))
            record(method: call.request.method, path: call.request.uri.path, status: 504, outcome: .miss, provider: provider.name,
                   model: call.model, key: nil, upstream: nil, total: ContinuousClock.now - call.started, tokens: 0)
            return response
        }

        var leading = missing
        var slots: [CacheKey: EmbeddingInFlight.Slot] = [:]
        var joined: [(CacheKey, EmbeddingInFlight.Slot)] = []
        if call.policy.lookup, !missing.isEmpty {
            (leading, slots, joined) = claimInputs(missing, maxAge: call.policy.maxAge, cached: &cached)
        }
        var run = await fetchEmbeddings(call, keys: leading, inputs: inputOf, namespace: namespace, slots: slots)
        if run.failure == nil {
            var orphaned: [CacheKey] = []
            for (key, slot) in joined {
                if let vector = await slot.value() { run.vectors[key] = vector } else { orphaned.append(key) }
            }
            if !orphaned.isEmpty {
                // Their fetch failed elsewhere: this batch asks for them itself.
                let retry = await fetchEmbeddings(call, keys: orphaned, inputs: inputOf, namespace: namespace, slots: [:])
                run.vectors.merge(retry.vectors) { first, _ in first }
                run.pending += retry.pending
                run.upstream += retry.upstream
                run.failure = retry.failure
            }
        }
        let pending = run.pending
        var served = cached
        for (key, vector) in run.vectors where served[key] == nil { served[key] = ServedInput(vector: vector, age: 0, fetched: true) }
        if let failure = run.failure {
            if !pending.isEmpty { Task { [self] in await persist(pending) } }
            // As for other requests (DESIGN.md, "Provider guard"): stale entries within
            // `cache.stale_if_error_seconds` for every input not at hand, then the fallback.
            let now = now()
            for (key, old) in expired where served[key] == nil
                && old.entry.isWithinStaleWindow(at: now, window: config.cache.staleIfErrorSeconds) {
                served[key] = old.served
            }
            switch CachePolicy.recovery(providerFailed: failure.isProviderFailure, staleUsable: keys.allSatisfy({ served[$0] != nil }),
                                        fallback: allowFallback ? provider.config.fallback : nil) {
            case .serveStale:
                logger.notice("served stale embeddings inputs", metadata: ["provider": "\(provider.name)"])
                return assembledBatch(call, keys: keys, served: served, pending: [], upstream: run.upstream, stale: true)
            case .tryFallback(let name):
                guard let fallback = providers[name] else { break }
                logger.notice("routing to fallback provider", metadata: ["provider": "\(provider.name)", "fallback": "\(name)"])
                // Keyed by the fallback's name: its vectors never fill the primary's entries.
                if let response = await embeddingsBatch(call.with(provider: fallback), namespace: namespace, fetchAllowed: fetchAllowed,
                                                        allowFallback: false) {
                    return response
                }
            case .fail:
                break
            }
            return failedBatch(call, failure: failure, upstream: run.upstream)
        }
        return assembledBatch(call, keys: keys, served: served, pending: pending, upstream: run.upstream, stale: false)
    }

    /// Every distinct input's entry: fresh ones, and ones past their TTL (or the caller's
    /// max-age) that only a failing provider lets stand in (STALE). nil: the store failed.
    private func lookUpInputs(_ keys: [CacheKey], maxAge: Int?) async
        -> (cached: [CacheKey: ServedInput], expired: [CacheKey: (served: ServedInput, entry: CacheEntry)])? {
        var cached: [CacheKey: ServedInput] = [:]
        var expired: [CacheKey: (served: ServedInput, entry: CacheEntry)] = [:]
        for key in keys {
            switch await tiers.lookup(key, now: now(), maxAge: maxAge) {
            case .hit(let answer):
                if let vector = Self.storedVector(answer) { cached[key] = ServedInput(vector: vector, age: answer.entry.age(at: now())) }
            case .expired(let answer):
                if let vector = Self.storedVector(answer) {
                    expired[key] = (ServedInput(vector: vector, age: answer.entry.age(at: now())), answer.entry)
                }
            case .storeFailed:
                return nil
            case .miss:
                break
            }
        }
        return (cached, expired)
    }

    /// Claims the missing inputs nobody is fetching (this batch fetches them and resolves their
    /// slots) and joins the others' fetches. A claimed input that landed in the memory tier since
    /// the lookup (the batch that fetched it has just finished) is served from there instead.
    private func claimInputs(_ missing: [CacheKey], maxAge: Int?, cached: inout [CacheKey: ServedInput])
        -> (leading: [CacheKey], slots: [CacheKey: EmbeddingInFlight.Slot], joined: [(CacheKey, EmbeddingInFlight.Slot)]) {
        var leading: [CacheKey] = []
        var slots: [CacheKey: EmbeddingInFlight.Slot] = [:]
        var joined: [(CacheKey, EmbeddingInFlight.Slot)] = []
        let claim = embeddingInFlight.claim(missing)
        for key in missing {
            if let slot = claim.leading[key] {
                if let answer = memoryAnswer(key, endpoint: .embeddings, streamed: false, maxAge: maxAge),
                   let vector = Self.storedVector(answer) {
                    cached[key] = ServedInput(vector: vector, age: answer.entry.age(at: now()))
                    embeddingInFlight.resolve(key, slot, with: vector)
                } else {
                    leading.append(key)
                    slots[key] = slot
                }
            } else if let slot = claim.joined[key] {
                joined.append((key, slot))
            }
        }
        return (leading, slots, joined)
    }

    /// One input's vector as a batch serves it: from the cache (with its age) or fetched now.
    struct ServedInput {
        var vector: EmbeddingInFlight.Vector
        var age: Int
        var fetched = false
    }

    /// The answer in the request's order and encoding, with its headers and counts. Outcome:
    /// HIT when every position came from the cache, MISS when none did, PARTIAL otherwise (STALE
    /// when expired entries stood in for a failed provider).
    private func assembledBatch(_ call: Call, keys: [CacheKey], served: [CacheKey: ServedInput], pending: [CachedAnswer],
                                upstream: Duration, stale: Bool) -> Response {
        let provider = call.provider
        var vectors: [ByteBuffer] = []
        vectors.reserveCapacity(keys.count)
        var promptTokens = 0
        var savedTokens = 0
        var cachedPositions = 0
        var age = 0
        for key in keys {
            // Every key is in `served` (the caller checked, or fetched it): a missing one is a bug.
            guard let input = served[key] else {
                return failedBatch(call, failure: .thrown(.internalError("embeddings input lost")), upstream: upstream)
            }
            vectors.append(input.vector.float32)
            promptTokens += input.vector.promptTokens
            if !input.fetched {
                savedTokens += input.vector.promptTokens
                cachedPositions += 1
                age = max(age, input.age)
            }
        }
        let outcome: Stats.Outcome = stale ? .stale : cachedPositions == keys.count ? .hit : cachedPositions == 0 ? .miss : .partial
        let body = EmbeddingBatch.answer(vectors: vectors, model: call.model, promptTokens: promptTokens,
                                         base64: EmbeddingBatch.wantsBase64(call.json))

        stats.count(outcome, endpoint: .embeddings)
        stats.embeddingInputsCached.add(cachedPositions)
        stats.embeddingInputsFetched.add(keys.count - cachedPositions)
        let now = now()
        if cachedPositions > 0 {
            stats.recordSaved(model: call.model, promptTokens: savedTokens, completionTokens: 0, endpoint: .embeddings)
            for (key, input) in served where !input.fetched { tiers.hits.record(key, at: now) }
        }
        var headers = HTTPFields()
        headers.append(HTTPField(name: .contentType, value: "application/json"))
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        headers.append(HTTPField(name: Self.cacheHeader, value: outcome.rawValue))
        headers.append(HTTPField(name: Self.cachedInputsHeader, value: "\(cachedPositions)/\(keys.count)"))
        if outcome == .hit || outcome == .stale { headers.append(HTTPField(name: .age, value: String(age))) }
        headers.append(HTTPField(name: Self.providerHeader, value: provider.name))
        let total = ContinuousClock.now - call.started
        if outcome == .hit {
            stats.hitLatency.record(total)
        } else if outcome != .stale {
            stats.missLatency.record(total)
        }
        if upstream > .zero {
            stats.upstreamLatency.record(upstream)
            metrics.observeUpstream(provider: provider.name, duration: upstream)
            if outcome != .stale { stats.overheadLatency.record(max(.zero, total - upstream)) }
        }
        record(method: call.request.method, path: call.request.uri.path, status: 200, outcome: outcome, provider: provider.name,
               model: call.model, key: nil, upstream: upstream > .zero ? upstream : nil, total: total, tokens: promptTokens)
        // The store writes of answers already in the memory tier wait until the body is out.
        let responseBody = ResponseBody { [self] writer in
            do {
                try await writer.write(body)
                try await writer.finish(nil)
            } catch {
                await persist(pending)
                throw error
            }
            await persist(pending)
        }
        return Response(status: .ok, headers: headers, body: responseBody)
    }

    /// What fetching some inputs produced: their vectors, the entries still to be written to
    /// the store, the provider's time, and the failure that stopped it, if one did.
    struct EmbeddingsRun {
        var vectors: [CacheKey: EmbeddingInFlight.Vector] = [:]
        var pending: [CachedAnswer] = []
        var upstream: Duration = .zero
        var failure: EmbeddingsFailure?
    }

    enum EmbeddingsFailure: Error {
        /// A provider answer that is not a success, relayed as it came.
        case upstream(UpstreamHead, [UInt8])
        case thrown(ParrotError)

        /// The provider could not answer (breaker open, unreachable, timed out, 5xx or 429 after
        /// the retries): a stale entry or the fallback may stand in. A 4xx is the request's fault.
        var isProviderFailure: Bool {
            switch self {
            case .upstream(let head, _): return UpstreamHead.isProviderFailure(status: head.status)
            case .thrown(let error): return CachePolicy.isProviderFailure(error)
            }
        }
    }

    /// Fetches `keys` through the provider's guard, at most `maxInputsPerRequest` per request,
    /// stores each vector as its own entry with its share of the request's `prompt_tokens`, and
    /// resolves each claimed slot as soon as its vector is in the memory tier (with nil for the
    /// ones that could not be fetched), whatever happens.
    private func fetchEmbeddings(_ call: Call, keys: [CacheKey], inputs: [CacheKey: EmbeddingInput], namespace: String,
                                 slots: [CacheKey: EmbeddingInFlight.Slot]) async -> EmbeddingsRun {
        var run = EmbeddingsRun()
        defer {
            for (key, slot) in slots where run.vectors[key] == nil { embeddingInFlight.resolve(key, slot, with: nil) }
        }
        let provider = call.provider
        for chunk in EmbeddingBatch.chunks(keys, limit: embeddingInFlight.maxInputsPerRequest) {
            let chunkInputs = chunk.map { inputs[$0]! }
            let request = upstreamRequest(call.request, provider: provider,
                                          body: .bytes(EmbeddingBatch.upstreamBody(call.json, inputs: chunkInputs)))
            let estimated = chunkInputs.reduce(1) { $0 + $1.estimatedTokens }
            let started = ContinuousClock.now
            var bytes: [UInt8] = []
            let head: UpstreamHead
            do {
                let response = try await provider.upstream.send(request, retryable: true, estimatedTokens: estimated,
                                                                deadline: call.started + .milliseconds(config.server.requestTimeoutMs))
                head = response.head
                do {
                    for try await piece in response.body { bytes.append(contentsOf: piece.readableBytesView) }
                } catch {
                    throw HTTPUpstreamClient.classify(error, provider: provider.name, maxAnswerBytes: provider.config.maxAnswerBytes)
                }
            } catch let error as ParrotError {
                run.upstream += ContinuousClock.now - started
                run.failure = .thrown(error)
                return run
            } catch {
                run.upstream += ContinuousClock.now - started
                run.failure = .thrown(.upstreamUnreachable(provider: provider.name, reason: "\(error)"))
                return run
            }
            run.upstream += ContinuousClock.now - started
            guard head.isSuccess else {
                run.failure = .upstream(head, bytes)
                return run
            }
            guard let answer = EmbeddingBatch.read(answer: bytes, count: chunkInputs.count) else {
                run.failure = .thrown(.upstreamInvalidAnswer(provider: provider.name,
                                                             reason: "not one embedding per input in the /v1/embeddings answer"))
                return run
            }
            provider.upstream.recordUsage(estimated: estimated, actual: answer.promptTokens)
            let shares = EmbeddingBatch.apportion(answer.promptTokens, weights: chunkInputs.map(\.weight))
            let now = now()
            // Each entry is in the memory tier (or, when it does not fit there, in the store)
            // before its slot resolves, so a batch arriving after finds it.
            var unbuffered: [CachedAnswer] = []
            for (offset, key) in chunk.enumerated() {
                let vector = EmbeddingInFlight.Vector(float32: answer.float32[offset], promptTokens: shares[offset])
                run.vectors[key] = vector
                if case .keep(let ttl) = call.storage,
                   let entry = entry(for: vector, key: key, call: call, namespace: namespace, now: now, ttl: ttl) {
                    if tiers.memory.put(entry) { run.pending.append(entry) } else { unbuffered.append(entry) }
                }
            }
            await persist(unbuffered)
            for key in chunk { if let slot = slots[key] { embeddingInFlight.resolve(key, slot, with: run.vectors[key]) } }
        }
        return run
    }

    /// One input's entry: the vector as little-endian float32 (in a gzip container like every
    /// stored body, uncompressed: vectors do not compress) and its share of the tokens. nil when
    /// it is larger than `cache.max_entry_bytes`.
    private func entry(for vector: EmbeddingInFlight.Vector, key: CacheKey, call: Call, namespace: String, now: Double,
                       ttl: Int) -> CachedAnswer? {
        let raw = vector.float32
        guard raw.readableBytes <= config.cache.maxEntryBytes, let compressed = try? Gzip.store(raw) else { return nil }
        let entry = CacheEntry(
            key: key, namespace: namespace, endpoint: CacheKey.embeddingInputEndpoint, provider: call.provider.name,
            model: call.model, mode: .json, status: 200, contentType: "application/octet-stream", body: compressed,
            rawBytes: raw.readableBytes, createdAt: now, expiresAt: ttl == 0 ? nil : now + Double(ttl),
            promptTokens: vector.promptTokens
        )
        return CachedAnswer(entry: entry, identityBody: raw)
    }

    /// A stored input's vector; nil for an entry that is not one (then the input is fetched).
    static func storedVector(_ answer: CachedAnswer) -> EmbeddingInFlight.Vector? {
        guard answer.entry.endpoint == CacheKey.embeddingInputEndpoint,
              answer.identityBody.readableBytes > 0, answer.identityBody.readableBytes % 4 == 0
        else { return nil }
        return EmbeddingInFlight.Vector(float32: answer.identityBody, promptTokens: answer.entry.promptTokens)
    }

    /// Writes a batch's entries at once, so the store's group commit puts them in a few
    /// transactions rather than one each.
    private func persist(_ entries: [CachedAnswer]) async {
        await withTaskGroup(of: Void.self) { group in
            for entry in entries { group.addTask { [tiers] in _ = await tiers.persist(entry) } }
        }
    }

    /// A batch whose fetch failed: the provider's answer as it came, or Parrot's error; a miss.
    private func failedBatch(_ call: Call, failure: EmbeddingsFailure, upstream: Duration) -> Response {
        var response: Response
        switch failure {
        case .upstream(let head, let bytes):
            var headers = Self.relayHeaders(head)
            headers[.contentLength] = String(bytes.count)
            response = Response(status: .init(code: head.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .thrown(let error):
            response = error.response
        }
        response.headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
        stats.count(.miss, endpoint: .embeddings)
        record(method: call.request.method, path: call.request.uri.path, status: Int(response.status.code), outcome: .miss,
               provider: call.provider.name, model: call.model, key: nil, upstream: upstream > .zero ? upstream : nil,
               total: ContinuousClock.now - call.started, tokens: 0)
        return response
    }

    /// An offline batch (replay mode, `only-if-cached`) with inputs missing: 504 `cache_miss`,
    /// nothing fetched; counted as an offline miss by the caller.
    static func inputsNotCached(missing: Int, cached: Int, total: Int, model: String, reason: String) -> Response {
        let error = ParrotError.cacheMiss(model: model, keyPrefix: "\(missing) of \(total) inputs not cached", reason: reason)
        var response = error.response
        response.headers[cacheHeader] = Stats.Outcome.miss.rawValue
        response.headers[cachedInputsHeader] = "\(cached)/\(total)"
        return response
    }
}
