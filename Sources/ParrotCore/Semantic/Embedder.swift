import Foundation
import NIOCore

/// Turns text into a vector. The seam lets tests use a deterministic embedder and users any
/// OpenAI-compatible `/v1/embeddings` endpoint (a provider, or a local embedding server).
public protocol Embedder: Sendable {
    func embed(_ text: String) async throws -> [Float]
}

/// Calls `POST {base_url}/embeddings` of a configured provider with `semantic.model`, within
/// `semantic.timeout_ms`. Any failure or slowness is thrown; the caller treats it as a miss.
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
        let body = JSONValue.object([("model", .string(model)), ("input", .string(text))]).byteBuffer
        var headers: [(String, String)] = [("content-type", "application/json"), ("content-length", String(body.readableBytes))]
        if let key = provider.apiKey { headers.append(("authorization", "Bearer \(key)")) }
        let request = UpstreamRequest(method: .post, url: provider.url(path: "/v1/embeddings", query: nil), headers: headers, body: .bytes(body))
        let client = provider.client
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: [Float].self) { group in
            group.addTask {
                let response = try await client.send(request)
                var bytes: [UInt8] = []
                for try await chunk in response.body { bytes.append(contentsOf: chunk.readableBytesView) }
                guard response.head.isSuccess else { throw Failure(description: "embedding endpoint answered \(response.head.status)") }
                let json = try JSONParser.parse(bytes)
                guard let values = json["data"]?[0]?["embedding"]?.arrayValue else { throw Failure(description: "no embedding in the answer") }
                return values.compactMap { $0.doubleValue.map(Float.init) }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Failure(description: "embedding took longer than semantic.timeout_ms")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
