import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ProxyEngine {
    // MARK: misses

    /// What one attempt at a miss came to.
    enum Attempt {
        case answered(Response)
        /// The provider could not answer: the policy decides what comes next.
        case failed(ParrotError)
        /// What this client joined cannot serve it after all (an answer that cannot be
        /// converted exactly, or one that landed and cannot serve this mode): it calls alone.
        case callAlone
    }

    /// The miss path: attempts in a loop, each one either answering, or failing with an error the
    /// policy turns into a `Recovery` (stale, the fallback provider once, or the error itself).
    /// Nothing here re-enters the pipeline.
    func miss(_ call: Call, key: CacheKey, namespace: String, coalesce: Bool) async -> Response {
        var (call, key, coalesce) = (call, key, coalesce)
        var fallbackTried = false
        while true {
            switch await attempt(call, key: key, namespace: namespace, coalesce: coalesce) {
            case .answered(let response):
                return response
            case .callAlone:
                coalesce = false
            case .failed(let error):
                let stale = CachePolicy.isProviderFailure(error) ? await staleAnswer(call, key: key) : nil
                let fallback = fallbackTried ? nil : call.provider.config.fallback
                switch CachePolicy.recovery(after: error, staleUsable: stale != nil, fallback: fallback) {
                case .serveStale:
                    if let stale, let response = serve(stale, call: call, outcome: .stale, key: key) {
                        logger.notice("served stale answer", metadata: ["provider": "\(call.provider.name)", "key": "\(key.prefix)"])
                        return response
                    }
                    return failedMiss(call, key: key, error: error)
                case .tryFallback(let name):
                    guard let provider = providers[name] else { return failedMiss(call, key: key, error: error) }
                    logger.notice("routing to fallback provider", metadata: ["provider": "\(call.provider.name)", "fallback": "\(name)"])
                    fallbackTried = true
                    (call, key) = fallbackCall(call, to: provider, namespace: namespace)
                    // A repeat finds the fallback's answer under its own key while the primary is down.
                    if call.policy.lookup, config.cache.enabled,
                       case .hit(let cached) = await lookup(key, for: call, maxAge: call.policy.maxAge),
                       let response = serve(cached, call: call, outcome: .hit, key: key) {
                        return response
                    }
                    coalesce = call.policy.lookup
                case .fail:
                    return failedMiss(call, key: key, error: error)
                }
            }
        }
    }

    /// Joins or leads the one upstream call for `key` and relays it; the leader's fetch stores
    /// the answer if and only if it completed with 2xx, is valid for the endpoint, and the
    /// policy said to keep it.
    private func attempt(_ call: Call, key: CacheKey, namespace: String, coalesce: Bool) async -> Attempt {
        let make = { [config] in
            InFlightAnswer(mode: call.mode, replayLimit: config.cache.maxEntryBytes, window: config.server.clientWindowBytes,
                           slowClientTimeout: .seconds(config.server.slowClientTimeoutS))
        }
        let joined: Coalescer.Joined
        if coalesce {
            // A joiner of the other mode waits for the whole answer and converts it; a plain
            // request can take a stream only when the stream carries usage (same body, so the
            // leader asked for it exactly when this request does).
            let otherModeJoinable = call.endpoint.convertsBetweenModes && (call.streamed || call.includeUsage)
            joined = coalescer.join(key, mode: call.mode, otherModeJoinable: otherModeJoinable, recheck: {
                memoryAnswer(key, endpoint: call.endpoint, streamed: call.streamed, maxAge: call.policy.maxAge)
            }, make: make)
        } else {
            let answer = make()
            joined = .lead(answer, id: answer.attach()!)
        }
        let answer: InFlightAnswer, id: Int
        var converting = false
        switch joined {
        case .cached(let cached):
            if let response = serve(cached, call: call, outcome: .hit, key: key) { return .answered(response) }
            return .callAlone
        case .lead(let leading, let leaderID):
            (answer, id) = (leading, leaderID)
            answer.start { [self] answer in
                await self.runUpstream(call, key: key, namespace: namespace, into: answer, registered: coalesce)
            }
        case .joined(let joinedAnswer, let joinerID, let otherMode):
            (answer, id, converting) = (joinedAnswer, joinerID, otherMode)
        }
        let head = await withTaskCancellationHandler {
            await answer.head()
        } onCancel: {
            answer.detach(id)
        }
        switch head {
        case .failure(let error):
            answer.detach(id)
            return .failed(error)
        case .success(let upstreamHead) where converting && upstreamHead.isSuccess:
            return await convertedAnswer(call, key: key, answer: answer, id: id, head: upstreamHead)
        case .success(let upstreamHead):
            return .answered(relayedAnswer(call, key: key, answer: answer, id: id, head: upstreamHead, leader: joined.isLeader))
        }
    }

    /// A miss the provider could not answer and nothing recovered: the error as it came,
    /// counted and labelled as a miss (DESIGN.md, "Outcomes and how they are counted").
    private func failedMiss(_ call: Call, key: CacheKey, error: ParrotError) -> Response {
        stats.count(.miss, endpoint: call.endpoint)
        record(method: call.request.method, path: call.request.uri.path, status: Int(error.status.code), outcome: .miss,
               provider: call.provider.name, model: call.model, key: key, upstream: nil,
               total: ContinuousClock.now - call.started, tokens: 0)
        var response = error.response
        response.headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
        response.headers[Self.keyHeader] = key.prefix
        return response
    }

    /// A stored answer for this request, fresh or expired within `cache.stale_if_error_seconds`;
    /// only where the request may be served from the cache at all.
    private func staleAnswer(_ call: Call, key: CacheKey) async -> CachedAnswer? {
        guard config.cache.enabled, call.policy.mode.mayServe else { return nil }
        switch await lookup(key, for: call, maxAge: nil) {
        case .hit(let answer), .expired(let answer):
            let staleUntil = (answer.entry.expiresAt ?? .infinity) + Double(config.cache.staleIfErrorSeconds)
            return now() <= staleUntil ? answer : nil
        case .miss, .storeFailed:
            return nil
        }
    }

    /// The request re-addressed to the fallback provider, with the fallback's own key: its
    /// answer is stored under the provider that produced it, never the primary's.
    private func fallbackCall(_ call: Call, to fallback: Provider, namespace: String) -> (Call, CacheKey) {
        let fallbackCall = call.with(provider: fallback)
        let variant = KeyVariant.of(query: call.request.uri.query, headers: call.request.headers, keyInjected: fallback.apiKey != nil)
        let key = CacheKey(endpoint: call.endpoint, provider: fallback.name, model: call.model, namespace: namespace,
                           body: call.json, streamed: call.streamed, variant: variant)
        return (fallbackCall, key)
    }

    /// A client of the answer's own mode (or any client of an error answer): the chunks already
    /// relayed, then the live ones, as they come.
    private func relayedAnswer(_ call: Call, key: CacheKey, answer: InFlightAnswer, id: Int, head upstreamHead: UpstreamHead,
                               leader: Bool) -> Response {
        stats.count(.miss, endpoint: call.endpoint)
        var headers = Self.relayHeaders(upstreamHead)
        headers[Self.cacheHeader] = Stats.Outcome.miss.rawValue
        headers[Self.keyHeader] = key.prefix
        headers[Self.providerHeader] = call.provider.name
        let body = ResponseBody { [self] writer in
            defer { answer.detach(id) }
            while let event = await answer.next(id) {
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
            // Detached: cut off for staying behind its window, or the client went away.
            throw ParrotError.upstreamUnreachable(provider: call.provider.name, reason: "relay ended early")
        }
        return Response(status: .init(code: upstreamHead.status), headers: headers, body: body)
    }

    /// A client that joined a call of the other mode: it waits for the complete answer and
    /// receives it converted, as a hit of the other mode would be. If the answer cannot be
    /// converted (or outgrows the replay bound), the client leads a call of its own instead.
    private func convertedAnswer(_ call: Call, key: CacheKey, answer: InFlightAnswer, id: Int,
                                 head upstreamHead: UpstreamHead) async -> Attempt {
        var whole = ByteBuffer()
        var complete = false
        collecting: while let event = await answer.next(id) {
            switch event {
            case .chunk(var chunk):
                guard whole.readableBytes + chunk.readableBytes <= config.cache.maxEntryBytes else { break collecting }
                whole.writeBuffer(&chunk)
            case .finished:
                complete = true
                break collecting
            case .failed:
                break collecting
            }
        }
        answer.detach(id)
        if Task.isCancelled {
            return .answered(ParrotError.upstreamUnreachable(provider: call.provider.name, reason: "client gone").response)
        }
        guard complete, let body = Self.convert(whole, to: call.mode, endpoint: call.endpoint, includeUsage: call.includeUsage) else {
            return .callAlone
        }
        stats.count(.miss, endpoint: call.endpoint)
        var headers = HTTPFields()
        headers.append(HTTPField(name: .contentType, value: call.streamed ? "text/event-stream; charset=utf-8" : "application/json"))
        headers.append(HTTPField(name: .contentLength, value: String(body.readableBytes)))
        headers.append(HTTPField(name: Self.cacheHeader, value: Stats.Outcome.miss.rawValue))
        headers.append(HTTPField(name: Self.keyHeader, value: key.prefix))
        headers.append(HTTPField(name: Self.providerHeader, value: call.provider.name))
        let total = ContinuousClock.now - call.started
        stats.missLatency.record(total)
        record(method: call.request.method, path: call.request.uri.path, status: upstreamHead.status, outcome: .miss,
                         provider: call.provider.name, model: call.model, key: key, upstream: answer.upstreamElapsed, total: total, tokens: 0)
        return .answered(Response(status: .init(code: upstreamHead.status), headers: headers, body: .init(byteBuffer: body)))
    }

    /// The leader's work: call upstream through the guard, publish the answer to every attached
    /// client, and store it when complete and valid. A plain (non-stream) answer is read whole
    /// before its head is published, so an answer that fails or is refused on the way (cut,
    /// over `max_answer_bytes`) reaches the client as an OpenAI-shaped error, not as a 200
    /// with a dropped connection; a stream is relayed chunk by chunk, paced by its clients.
    private func runUpstream(_ call: Call, key: CacheKey, namespace: String, into answer: InFlightAnswer, registered: Bool) async {
        defer { if registered { coalescer.remove(key, answer) } }
        let upstreamStarted = ContinuousClock.now
        let response: UpstreamResponse
        do {
            response = try await call.provider.upstream.send(
                upstreamRequest(call.request, provider: call.provider, body: .bytes(call.body)),
                retryable: true, estimatedTokens: call.estimatedTokens,
                deadline: call.started + .milliseconds(config.server.requestTimeoutMs)
            )
        } catch {
            answer.publishHead(.failure(error))
            return
        }
        if response.head.isProviderFailure {
            // Retries are exhausted: let the client path try a stale answer or the fallback
            // before relaying this error as it came.
            var body: [UInt8] = []
            do {
                for try await chunk in response.body where body.count < 1 << 20 { body.append(contentsOf: chunk.readableBytesView) }
            } catch {}
            answer.publishHead(.failure(.upstreamStatus(UpstreamErrorAnswer(status: response.head.status, headers: response.head.headers, body: body))))
            return
        }
        let mode: CacheEntry.Mode = (response.head.header("content-type") ?? "").contains("text/event-stream") ? .sse : .json
        var capture: ByteBuffer? = response.head.isSuccess && call.storage != .discard ? ByteBuffer() : nil
        var iterator = response.body.makeAsyncIterator()
        do {
            if mode == .json {
                var whole = ByteBuffer()
                while var chunk = try await iterator.next() { whole.writeBuffer(&chunk) }
                if whole.readableBytes > config.cache.maxEntryBytes { capture = nil } else if capture != nil { capture = whole }
                answer.publishHead(.success(response.head))
                answer.publish(whole)
            } else {
                answer.publishHead(.success(response.head))
                while true {
                    await answer.waitForRoom()
                    guard let chunk = try await iterator.next() else { break }
                    if capture != nil {
                        if capture!.readableBytes + chunk.readableBytes > config.cache.maxEntryBytes {
                            capture = nil
                        } else {
                            var copy = chunk
                            capture!.writeBuffer(&copy)
                        }
                    }
                    answer.publish(chunk)
                }
            }
        } catch {
            answer.upstreamElapsed = ContinuousClock.now - upstreamStarted
            let failure = HTTPUpstreamClient.classify(error, provider: call.provider.name, maxAnswerBytes: call.provider.config.maxAnswerBytes)
            if case .answerTooLarge = failure {
                logger.warning("answer refused: larger than providers.\(call.provider.name).max_answer_bytes",
                               metadata: ["provider": "\(call.provider.name)", "key": "\(key.prefix)",
                                          "limit": "\(call.provider.config.maxAnswerBytes)"])
            }
            if mode == .json {
                answer.publishHead(.failure(failure))
            } else {
                answer.finish(failure)
            }
            return
        }
        answer.upstreamElapsed = ContinuousClock.now - upstreamStarted
        guard let captured = capture else {
            answer.finish()
            return
        }
        await commit(call, key: key, namespace: namespace, head: response.head, mode: mode, body: captured, answer: answer,
                     registered: registered)
    }

    /// Inspects, compresses and stores a complete answer, then lets its clients finish. A chat
    /// stream without `usage` is stored beside the key (it cannot answer a plain request).
    private func commit(_ call: Call, key: CacheKey, namespace: String, head: UpstreamHead, mode: CacheEntry.Mode,
                        body captured: ByteBuffer, answer: InFlightAnswer, registered: Bool) async {
        let bytes = Array(captured.readableBytesView)
        let verdict = AnswerInspector.inspect(endpoint: call.endpoint, mode: mode, body: bytes)
        guard verdict.storable, let compressed = try? Gzip.compress(captured) else {
            logger.debug("answer not stored", metadata: ["key": "\(key.prefix)", "reason": "\(verdict.reason)"])
            answer.finish()
            return
        }
        call.provider.upstream.recordUsage(estimated: call.estimatedTokens, actual: verdict.promptTokens + verdict.completionTokens)
        let storeKey = mode == .sse && call.endpoint.convertsBetweenModes && !verdict.hasUsage ? key.besideForStreams : key
        let now = now()
        guard case .keep(let ttl) = call.storage else {
            answer.finish()
            return
        }
        let entry = CacheEntry(
            key: storeKey, namespace: namespace, endpoint: call.endpoint.rawValue, provider: call.provider.name, model: call.model,
            mode: mode, status: head.status, contentType: head.header("content-type") ?? "application/json",
            body: compressed, rawBytes: bytes.count, createdAt: now, expiresAt: ttl == 0 ? nil : now + Double(ttl),
            promptTokens: verdict.promptTokens, completionTokens: verdict.completionTokens, semantic: call.probe?.record
        )
        let cached = CachedAnswer(entry: entry, identityBody: captured)
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
            semantic?.insert(key: storeKey, record)
        }
    }
}

extension Coalescer.Joined {
    var isLeader: Bool {
        if case .lead = self { return true }
        return false
    }
}
