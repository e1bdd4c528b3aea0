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
            return answer.entry.isWithinStaleWindow(at: now(), window: config.cache.staleIfErrorSeconds) ? answer : nil
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
        await cacheCommit.commit(call, key: key, namespace: namespace, head: response.head, mode: mode, body: captured,
                                 answer: answer, registered: registered)
    }
}

extension Coalescer.Joined {
    var isLeader: Bool {
        if case .lead = self { return true }
        return false
    }
}
