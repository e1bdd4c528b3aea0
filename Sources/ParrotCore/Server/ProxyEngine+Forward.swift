import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ProxyEngine {
    // MARK: uncached forwarding

    /// Forwards a cacheable-endpoint request without touching the cache (`no-store`, cache
    /// disabled, store down).
    func forward(_ call: Call, outcome: Stats.Outcome) async -> Response {
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
    func passThrough(_ request: Request, started: ContinuousClock.Instant) async -> Response {
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
            response = try await provider.upstream.send(request, retryable: retryable, estimatedTokens: estimatedTokens,
                                                        deadline: started + .milliseconds(config.server.requestTimeoutMs))
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
            // With the operator's key injected, the client's credentials and the organization and
            // project it names are not forwarded: the operator's key bills the operator's.
            if provider.apiKey != nil,
               name == "authorization" || name == "api-key" || name == "openai-organization" || name == "openai-project" { continue }
            headers.append((field.name.rawName, field.value))
        }
        if let key = provider.apiKey { headers.append(("authorization", "Bearer \(key)")) }
        if case .bytes(let buffer) = body { headers.append(("content-length", String(buffer.readableBytes))) }
        return UpstreamRequest(method: request.method, url: provider.url(path: request.uri.path, query: request.uri.query),
                               headers: headers, body: body)
    }

    static func relayHeaders(_ head: UpstreamHead) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in head.headers where !RequestScreen.isCORSHeader(name) {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return fields
    }
}
