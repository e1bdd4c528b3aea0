/// The cached endpoints. Everything else under `/v1/` is forwarded and never cached.
public enum Endpoint: String, Sendable, CaseIterable {
    case chatCompletions = "/v1/chat/completions"
    case completions = "/v1/completions"
    case embeddings = "/v1/embeddings"
    case responses = "/v1/responses"

    /// Name used by `[cache.endpoint_ttl_seconds]`.
    public var configName: String {
        switch self {
        case .chatCompletions: "chat_completions"
        case .completions: "completions"
        case .embeddings: "embeddings"
        case .responses: "responses"
        }
    }

    /// Whether a stored stream can answer a plain request and the other way round.
    /// For other endpoints each mode is its own entry.
    public var convertsBetweenModes: Bool {
        self == .chatCompletions || self == .completions
    }
}
