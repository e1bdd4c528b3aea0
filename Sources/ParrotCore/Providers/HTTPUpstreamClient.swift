import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import Synchronization

/// One AsyncHTTPClient per provider for the life of the process: a keep-alive pool bounded by
/// `max_connections`, HTTP/2 where the provider offers it, TLS from the system, and gzip asked
/// for and inflated here so the rest of Parrot sees identity bodies.
public final class HTTPUpstreamClient: UpstreamClient {
    private let client: HTTPClient
    private let provider: String
    private let timeout: TimeAmount
    private let maxAnswerBytes: Int
    private let active = Gauge()

    /// A shared counter the response bodies decrement when they end.
    final class Gauge: Sendable {
        let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .relaxed) }
        func decrement() { value.subtract(1, ordering: .relaxed) }
        var current: Int { value.load(ordering: .relaxed) }
    }

    public init(provider: String, config: ProviderConfig) {
        self.provider = provider
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .milliseconds(Int64(config.connectTimeoutMs)), read: .milliseconds(Int64(config.timeoutMs))),
            // A size, never a ratio: JSON mode's whitespace answers compress a thousandfold.
            decompression: .enabled(limit: .size(config.maxAnswerBytes))
        )
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: config.maxConnections
        )
        // A refused connection fails at once and goes through Parrot's own retry policy
        // (`max_retries`, backoff, breaker); AsyncHTTPClient's retrying would hold every such
        // request for the whole `connect_timeout_ms` first.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .automatic
        // No distributed tracing here: with the default (no-op) tracer AsyncHTTPClient would
        // still parse every request's URL a second time to fill span attributes nobody reads.
        configuration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.timeout = .milliseconds(Int64(config.timeoutMs))
        self.maxAnswerBytes = config.maxAnswerBytes
    }

    public var inFlight: Int { active.current }

    public func send(_ request: UpstreamRequest) async throws(ParrotError) -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        for (name, value) in request.headers { outbound.headers.add(name: name, value: value) }
        outbound.headers.replaceOrAdd(name: "accept-encoding", value: "gzip")
        switch request.body {
        case .none: break
        case .bytes(let buffer): outbound.body = .bytes(buffer)
        case .stream(let sequence, let length):
            outbound.body = .stream(sequence, length: length.map { .known(Int64($0)) } ?? .unknown)
        }
        // AsyncHTTPClient applies this deadline until the head arrives; after it, the read
        // timeout (`timeout_ms` between two reads) bounds the body.
        var headTimeout = timeout
        if let deadline = request.deadline {
            let left = (deadline - ContinuousClock.now).components
            let nanoseconds = left.seconds * 1_000_000_000 + left.attoseconds / 1_000_000_000
            headTimeout = min(headTimeout, .nanoseconds(max(0, nanoseconds)))
        }
        active.increment()
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: headTimeout)
        } catch {
            active.decrement()
            throw Self.classify(error, provider: provider, maxAnswerBytes: maxAnswerBytes)
        }
        let connectionTokens = Set(response.headers["connection"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        let headers = response.headers.filter { !HopByHop.isHopByHop($0.name, connectionTokens: connectionTokens) }
            .map { ($0.name, $0.value) }
        let head = UpstreamHead(status: Int(response.status.code), headers: headers)
        // The count ends exactly once however the body ends: read to the end, failed, or
        // dropped unread (a retried 5xx, an open breaker, a client gone).
        let guardian = CountedBody.Guard(onEnd: { [active] in active.decrement() })
        return UpstreamResponse(head: head, body: CountedBody(base: response.body, provider: provider, limit: maxAnswerBytes, guardian: guardian))
    }

    /// - Parameter maxAnswerBytes: the bound a decompression refusal is reported against.
    static func classify(_ error: any Error, provider: String, maxAnswerBytes: Int) -> ParrotError {
        if let error = error as? ParrotError { return error }
        if let error = error as? NIOHTTPDecompression.DecompressionError, error == .limit {
            return .answerTooLarge(provider: provider, limit: maxAnswerBytes)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return .upstreamUnreachable(provider: provider, reason: "connect timeout")
            case .readTimeout, .deadlineExceeded: return .upstreamTimeout(provider: provider)
            case .remoteConnectionClosed: return .upstreamUnreachable(provider: provider, reason: "connection closed by the provider")
            default: return .upstreamUnreachable(provider: provider, reason: "\(error)")
            }
        }
        if error is CancellationError { return .upstreamUnreachable(provider: provider, reason: "cancelled") }
        return .upstreamUnreachable(provider: provider, reason: "\(error)")
    }

    public func shutdown() async throws {
        try await client.shutdown()
    }
}

/// Wraps the provider's body so that errors are classified the same way as connection errors,
/// an identity body past `limit` is refused like a decompressed one, and the in-flight gauge
/// drops when the body ends, however it ends — the guard is made with the response, so a body
/// that is never iterated ends its count when the response is dropped.
struct CountedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: HTTPClientResponse.Body
    let provider: String
    let limit: Int
    let guardian: Guard

    final class Guard: Sendable {
        let onEnd: @Sendable () -> Void
        let done = Atomic<Bool>(false)
        init(onEnd: @escaping @Sendable () -> Void) { self.onEnd = onEnd }
        func end() { if !done.exchange(true, ordering: .relaxed) { onEnd() } }
        deinit { end() }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        let provider: String
        let limit: Int
        let guardian: Guard
        var received = 0

        mutating func next() async throws -> ByteBuffer? {
            do {
                let chunk = try await base.next()
                guard let chunk else {
                    guardian.end()
                    return nil
                }
                received += chunk.readableBytes
                if received > limit { throw ParrotError.answerTooLarge(provider: provider, limit: limit) }
                return chunk
            } catch {
                guardian.end()
                throw HTTPUpstreamClient.classify(error, provider: provider, maxAnswerBytes: limit)
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), provider: provider, limit: limit, guardian: guardian)
    }
}
