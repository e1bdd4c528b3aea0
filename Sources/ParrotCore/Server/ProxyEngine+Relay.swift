import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ProxyEngine {
    // MARK: relay

    /// A client of the answer's own mode (or any client of an error answer): the chunks already
    /// relayed, then the live ones, as they come.
    func relayedAnswer(_ call: Call, key: CacheKey, answer: InFlightAnswer, id: Int, head upstreamHead: UpstreamHead,
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
    func convertedAnswer(_ call: Call, key: CacheKey, answer: InFlightAnswer, id: Int,
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
}
