import Foundation
import NIOCore

/// Turns text into a vector. The seam lets tests use a deterministic embedder and users any
/// OpenAI-compatible `/v1/embeddings` endpoint (a provider, or a local embedding server).
public protocol Embedder: Sendable {
    func embed(_ text: String) async throws -> [Float]
}

/// Calls `POST {base_url}/embeddings` of a configured provider with `semantic.model`, through
/// that provider's guard like any other call: it counts against the provider's RPM and TPM
/// (input characters / 4 + 1 tokens), is refused while its breaker is open and counts towards
/// opening it, and is retried like other cacheable calls, all within `semantic.timeout_ms`.
/// Any failure or slowness is thrown; the caller treats it as a miss.
public struct OpenAIEmbedder: Embedder {
    let provider: Provider
    let model: String
    let timeout: Duration

    public init(provider: Provider, model: String, timeoutMs: Int) {
        self.provider = provider
        self.model = model
        self.timeout = .milliseconds(timeoutMs)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public func embed(_ text: String) async throws -> [Float] {
        let deadline = ContinuousClock.now + timeout
        let body = JSONValue.object([("model", .string(model)), ("input", .string(text))]).byteBuffer
        var headers: [(String, String)] = [("content-type", "application/json"), ("content-length", String(body.readableBytes))]
        if let key = provider.apiKey { headers.append(("authorization", "Bearer \(key)")) }
        let request = UpstreamRequest(method: .post, url: provider.url(path: "/v1/embeddings", query: nil), headers: headers, body: .bytes(body))
        // The deadline bounds the queue, the retries and the wait for the head...
        let response = try await provider.upstream.send(request, retryable: true, estimatedTokens: text.utf8.count / 4 + 1,
                                                        deadline: deadline)
        // ...and the body, which the guard leaves to `timeout_ms` between reads, gets what is left
        // of it; a body that does not end in time is abandoned, not waited for.
        let bytes = try await withDeadline(deadline - ContinuousClock.now, onTimeout: { Self.tooSlow }) {
            var bytes: [UInt8] = []
            for try await chunk in response.body { bytes.append(contentsOf: chunk.readableBytesView) }
            return bytes
        }
        guard response.head.isSuccess else { throw Failure(description: "embedding endpoint answered \(response.head.status)") }
        let json = try JSONParser.parse(bytes)
        guard let values = json["data"]?[0]?["embedding"]?.arrayValue else { throw Failure(description: "no embedding in the answer") }
        return values.compactMap { $0.doubleValue.map(Float.init) }
    }

    private static let tooSlow = Failure(description: "embedding took longer than semantic.timeout_ms")
}
