/// Everything Parrot needs to run, built once at start-up (file → environment → flags) and
/// passed down as a value. Every field has a default so Parrot starts with no file at all.
public struct ProxyConfig: Sendable, Equatable {
    public var server = ServerConfig()
    public var cache = CacheConfig()
    public var semantic = SemanticConfig()
    /// Providers by name. With no file, one OpenAI provider serving every model.
    public var providers: [String: ProviderConfig] = ["openai": ProviderConfig()]
    public var log = LogConfig()
    /// USD per million tokens by model name; the built-in table, overridden by `[pricing."model"]`.
    public var pricing: [String: ModelPrice] = ModelPrice.builtIn
    /// Where each key's value came from (file, environment, flag), for messages only.
    public var origins = ConfigOrigins()

    public init() {}
}

public struct ServerConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var defaultProvider = "openai"
    public var adminTokenEnv = ""
    public var clientTokensEnv = ""
    public var allowOpenRelay = false
    public var maxBodyBytes = 10_485_760
    public var maxHeaderBytes = 65_536
    public var maxConnections = 4096
    public var requestTimeoutMs = 600_000
    public var idleTimeoutS = 75
    /// A connection that has not sent a complete request head this long after it opened (or
    /// after the first byte of its next request) is closed.
    public var headerTimeoutS = 10
    /// Host names accepted besides the loopback ones (`localhost`, `127.0.0.1`, `[::1]`), with
    /// or without a port. On a non-loopback listener the Host check applies once this is set.
    public var allowedHosts: [String] = []
    /// Browser origins (`scheme://host[:port]`) allowed to call Parrot cross-origin (CORS).
    public var allowedOrigins: [String] = []
    public var shutdownGraceS = 30
    /// Relayed-but-unread bytes each client of an in-flight answer may have; the upstream is
    /// read no faster than the slowest attached client takes it, up to this window.
    public var clientWindowBytes = 1_048_576
    /// A client behind its window for this long is cut off so the others go on.
    public var slowClientTimeoutS = 10
    public init() {}
}

public struct CacheConfig: Sendable, Equatable {
    public var enabled = true
    public var store = "sqlite"
    public var path = ".parrot/cache.sqlite"
    public var postgresUrl = ""
    public var ttlSeconds = 3600
    /// Per-endpoint TTL overrides, keyed by `chat_completions`, `completions`, `embeddings`, `responses`.
    public var endpointTTLSeconds: [String: Int] = [:]
    public var maxBytes = 1_073_741_824
    public var memoryBytes = 67_108_864
    /// Answers larger than this (uncompressed) are relayed but not cached.
    public var maxEntryBytes = 8_388_608
    public var staleIfErrorSeconds = 86_400
    public var shareAcrossKeys = false
    public var namespaceSecretEnv = ""
    public var postgresPoolSize = 8
    /// `read_write` | `read_only` | `write_only` | `replay` | `off` (`CacheMode`).
    public var mode = CacheMode.readWrite.rawValue
    /// Distinct answers a key keeps by default (sample sets, 1–16; `X-Parrot-Samples` per request).
    public var samples = 1
    public init() {}

    /// `mode` as a value; validation has refused any other spelling.
    public var cacheMode: CacheMode { CacheMode(rawValue: mode) ?? .readWrite }
}

public struct SemanticConfig: Sendable, Equatable {
    public var enabled = false
    public var threshold = 0.8
    public var embeddingProvider = "openai"
    public var model = "text-embedding-3-small"
    public var timeoutMs = 500
    /// Requests with a higher `temperature` skip the semantic tier (2.0 = no limit).
    public var maxTemperature = 2.0
    /// Requests asking for several choices (`n > 1`) skip the semantic tier unless true.
    public var includeMultipleChoices = false
    public init() {}
}

public struct ProviderConfig: Sendable, Hashable {
    public var baseURL = "https://api.openai.com/v1"
    public var apiKeyEnv = "OPENAI_API_KEY"
    public var models = ["*"]
    public var maxConnections = 64
    public var connectTimeoutMs = 5000
    public var timeoutMs = 600_000
    public var rpm = 0
    public var tpm = 0
    public var maxQueueWaitMs = 2000
    public var maxRetries = 3
    public var retryOnTimeout = false
    /// Bound on a provider answer once decompressed: a size, never a ratio (JSON mode's
    /// whitespace answers compress a thousandfold and are legitimate). Past it the answer is
    /// refused (502 when its head was not sent yet), never truncated.
    public var maxAnswerBytes = 67_108_864
    public var fallback = ""
    public var breaker = BreakerConfig()
    public init() {}
}

public struct BreakerConfig: Sendable, Hashable {
    public var failureThreshold = 5
    public var openSeconds = 30
    public var halfOpenProbes = 1
    /// Failure rate (0–1) over the last `window_size` calls that also opens the breaker.
    public var failureRate = 0.5
    public var windowSize = 20
    /// Calls needed in the window before the failure rate is judged.
    public var minimumCalls = 10
    public init() {}
}

public struct LogConfig: Sendable, Equatable {
    public var format = "text"
    public var level = "info"
    public init() {}
}

public struct ModelPrice: Sendable, Equatable {
    public var inputPerMTok: Double
    public var outputPerMTok: Double

    public init(inputPerMTok: Double = 0, outputPerMTok: Double = 0) {
        self.inputPerMTok = inputPerMTok
        self.outputPerMTok = outputPerMTok
    }

    /// List prices (USD per million tokens) of common OpenAI models; `[pricing."model"]` overrides.
    public static let builtIn: [String: ModelPrice] = [
        "gpt-4o": .init(inputPerMTok: 2.50, outputPerMTok: 10.00),
        "gpt-4o-mini": .init(inputPerMTok: 0.15, outputPerMTok: 0.60),
        "gpt-4.1": .init(inputPerMTok: 2.00, outputPerMTok: 8.00),
        "gpt-4.1-mini": .init(inputPerMTok: 0.40, outputPerMTok: 1.60),
        "gpt-4.1-nano": .init(inputPerMTok: 0.10, outputPerMTok: 0.40),
        "gpt-4-turbo": .init(inputPerMTok: 10.00, outputPerMTok: 30.00),
        "gpt-3.5-turbo": .init(inputPerMTok: 0.50, outputPerMTok: 1.50),
        "o1": .init(inputPerMTok: 15.00, outputPerMTok: 60.00),
        "o1-mini": .init(inputPerMTok: 1.10, outputPerMTok: 4.40),
        "o3-mini": .init(inputPerMTok: 1.10, outputPerMTok: 4.40),
        "text-embedding-3-small": .init(inputPerMTok: 0.02, outputPerMTok: 0),
        "text-embedding-3-large": .init(inputPerMTok: 0.13, outputPerMTok: 0),
        "text-embedding-ada-002": .init(inputPerMTok: 0.10, outputPerMTok: 0),
    ]
}
