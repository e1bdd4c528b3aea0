import Hummingbird
import NIOCore

/// The Intake stage of a cacheable request, after authentication and the body limit: the body
/// parsed and checked, the model routed to a provider, and everything the later stages need
/// gathered in one `Call`.
struct Intake: Sendable {
    let router: ModelRouter
    let providers: [String: Provider]

    /// Model names end up in stats, logs and cache entries: a client may not make them large.
    static let maxModelBytes = 256

    /// The request as a `Call`, or the 400 that says what is wrong with its body.
    func call(_ request: Request, endpoint: Endpoint, body: ByteBuffer, policy: CachePolicy,
              started: ContinuousClock.Instant) throws(ParrotError) -> ProxyEngine.Call {
        let json: JSONValue
        do {
            json = try JSONParser.parse(body.readableBytesView)
        } catch {
            throw .invalidRequest("Request body is not valid JSON (or names a member twice): \(error.description).", param: nil)
        }
        guard case .object = json else { throw .invalidRequest("Request body must be a JSON object.", param: nil) }
        let model = json["model"]?.stringValue
        if let m = json["model"], model == nil, m != .null { throw .invalidRequest("'model' must be a string.", param: "model") }
        if let model, model.utf8.count > Self.maxModelBytes {
            throw .invalidRequest("'model' is longer than \(Self.maxModelBytes) bytes.", param: "model")
        }
        if let s = json["stream"], s.boolValue == nil, s != .null { throw .invalidRequest("'stream' must be a boolean.", param: "stream") }
        let streamed = json["stream"]?.boolValue ?? false
        // Background responses run on after the request; their answer is not the request's.
        let background = endpoint == .responses && json["background"]?.boolValue == true
        return ProxyEngine.Call(
            endpoint: endpoint, request: request, body: body, json: json, model: model ?? "", streamed: streamed,
            provider: providers[router.provider(forModel: model)]!, policy: policy, started: started,
            cacheable: model != nil && !background
        )
    }
}

extension ProxyEngine {
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
        /// Names a model, and its answer is the request's own (not a background response).
        var cacheable = true
        /// What to do with a complete, valid answer (the policy's decision).
        var storage = CachePolicy.Storage.discard
        /// The request's embedding when the semantic tier is on; stored beside the answer.
        var probe: SemanticTier.Probe?

        /// Prompt characters / 4 plus the requested completion budget: a documented, cheap
        /// estimate for the TPM bucket, corrected from `usage` when the answer arrives.
        var estimatedTokens: Int {
            let estimate = tokenEstimate
            return estimate.prompt + estimate.completion
        }

        /// The estimate's two parts: prompt characters / 4 (+1) in, the completion budget out.
        var tokenEstimate: (prompt: Int, completion: Int) {
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
            return (characters / 4 + 1, max(0, budget))
        }

        /// The same request sent to another provider (a fallback): the primary's embedding does
        /// not apply there (its scope names the provider).
        func with(provider: Provider) -> Call {
            Call(endpoint: endpoint, request: request, body: body, json: json, model: model, streamed: streamed,
                 provider: provider, policy: policy, started: started, cacheable: cacheable, storage: storage)
        }

        var includeUsage: Bool { json["stream_options"]?["include_usage"]?.boolValue ?? false }
        var mode: CacheEntry.Mode { streamed ? .sse : .json }
    }
}
