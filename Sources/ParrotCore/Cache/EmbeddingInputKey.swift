import Crypto

/// One input of an embeddings request: a text, or a text already tokenized into ids.
public enum EmbeddingInput: Sendable, Hashable {
    case text(String)
    case tokens([Int])

    var json: JSONValue {
        switch self {
        case .text(let text): .string(text)
        case .tokens(let ids): .array(ids.map(JSONValue.int))
        }
    }

    /// What its share of a batch's `prompt_tokens` is proportional to: UTF-8 bytes of a text,
    /// the ids of a token list (exactly its tokens).
    var weight: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .tokens(let ids): ids.count
        }
    }

    /// For the TPM bucket, like `ProxyEngine.Call.estimatedTokens`: characters / 4, or the ids.
    var estimatedTokens: Int {
        switch self {
        case .text(let text): text.utf8.count / 4 + 1
        case .tokens(let ids): ids.count
        }
    }
}

extension CacheKey {
    /// Where an entry of the embeddings cache lives and what it is labelled with in the store
    /// (and in `parrot export`): one vector per input, never a whole answer.
    public static let embeddingInputEndpoint = "/v1/embeddings#input"

    /// The key of one embeddings input: provider, model, namespace, the request's other
    /// parameters (`dimensions` and anything else a provider may read), the key variant (query,
    /// `OpenAI-Beta` / `-Organization` / `-Project`) and the input itself. Not its position, not
    /// `encoding_format` (the vector is stored once and served in either encoding) and not
    /// `user`. Its own endpoint label keeps it apart from every whole-answer key.
    ///
    /// - Parameter parameters: the request body without `input`, `encoding_format`, `user` and
    ///   `model` (``EmbeddingBatch/keyedParameters(of:)``).
    public init(embeddingInput input: EmbeddingInput, provider: String, model: String, namespace: String,
                parameters: JSONValue, variant: String = "") {
        var canonical = Self.scope(endpoint: Self.embeddingInputEndpoint, provider: provider, model: model, namespace: namespace,
                                   mode: nil, variant: variant, capacity: 256)
        parameters.encode(into: &canonical, sortedKeys: true)
        canonical.append(0x0A)
        input.json.encode(into: &canonical, sortedKeys: true)
        self.init(digest: Array(SHA256.hash(data: canonical)))
    }
}
