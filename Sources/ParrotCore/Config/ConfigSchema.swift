/// The keys of `proxy.conf`, in one place: the TOML loader, the environment overrides and the
/// validation messages all read them from here, so a key has one spelling everywhere.
enum ConfigSchema {
    static var server: [String: ConfigField<ServerConfig>] { [
        "host": .string(\.host),
        "port": .int(\.port, max: 65535),
        "default_provider": .string(\.defaultProvider),
        "admin_token_env": .string(\.adminTokenEnv),
        "client_tokens_env": .string(\.clientTokensEnv),
        "allow_open_relay": .bool(\.allowOpenRelay),
        "max_body_bytes": .int(\.maxBodyBytes, min: 1),
        "max_header_bytes": .int(\.maxHeaderBytes, min: 1024),
        "max_connections": .int(\.maxConnections, min: 1),
        "request_timeout_ms": .int(\.requestTimeoutMs, min: 1),
        "idle_timeout_s": .int(\.idleTimeoutS, min: 1),
        "header_timeout_s": .int(\.headerTimeoutS, min: 1),
        "allowed_hosts": .strings(\.allowedHosts),
        "allowed_origins": .strings(\.allowedOrigins),
        "shutdown_grace_s": .int(\.shutdownGraceS),
        "client_window_bytes": .int(\.clientWindowBytes, min: 65536),
        "slow_client_timeout_s": .int(\.slowClientTimeoutS, min: 1),
    ] }

    static var cache: [String: ConfigField<CacheConfig>] { [
        "enabled": .bool(\.enabled),
        "store": .string(\.store),
        "path": .string(\.path),
        "postgres_url": .string(\.postgresUrl),
        "ttl_seconds": .int(\.ttlSeconds),
        "max_bytes": .int(\.maxBytes, min: 1),
        "memory_bytes": .int(\.memoryBytes),
        "max_entry_bytes": .int(\.maxEntryBytes, min: 1),
        "stale_if_error_seconds": .int(\.staleIfErrorSeconds),
        "share_across_keys": .bool(\.shareAcrossKeys),
        "namespace_secret_env": .string(\.namespaceSecretEnv),
        "postgres_pool_size": .int(\.postgresPoolSize, min: 1),
        "mode": .string(\.mode),
        "samples": .int(\.samples, min: 1, max: 16),
    ] }

    /// Endpoint names accepted under `[cache.endpoint_ttl_seconds]`.
    static let ttlEndpoints = ["chat_completions", "completions", "embeddings", "responses"]

    static var semantic: [String: ConfigField<SemanticConfig>] { [
        "enabled": .bool(\.enabled),
        "threshold": .double(\.threshold, min: 0, max: 1),
        "embedding_provider": .string(\.embeddingProvider),
        "model": .string(\.model),
        "timeout_ms": .int(\.timeoutMs, min: 1),
        "max_temperature": .double(\.maxTemperature, min: 0, max: 2),
        "include_multiple_choices": .bool(\.includeMultipleChoices),
    ] }

    static var provider: [String: ConfigField<ProviderConfig>] { [
        "base_url": .string(\.baseURL),
        "api_key_env": .string(\.apiKeyEnv),
        "models": .strings(\.models),
        "max_connections": .int(\.maxConnections, min: 1),
        "connect_timeout_ms": .int(\.connectTimeoutMs, min: 1),
        "timeout_ms": .int(\.timeoutMs, min: 1),
        "rpm": .int(\.rpm),
        "tpm": .int(\.tpm),
        "max_queue_wait_ms": .int(\.maxQueueWaitMs),
        "max_retries": .int(\.maxRetries, max: 20),
        "retry_on_timeout": .bool(\.retryOnTimeout),
        "max_answer_bytes": .int(\.maxAnswerBytes, min: 1024),
        "fallback": .string(\.fallback),
    ] }

    static var breaker: [String: ConfigField<BreakerConfig>] { [
        "failure_threshold": .int(\.failureThreshold, min: 1),
        "open_seconds": .int(\.openSeconds, min: 1),
        "half_open_probes": .int(\.halfOpenProbes, min: 1),
        "failure_rate": .double(\.failureRate, min: 0.01, max: 1),
        "window_size": .int(\.windowSize, min: 1),
        "minimum_calls": .int(\.minimumCalls, min: 1),
    ] }

    static var log: [String: ConfigField<LogConfig>] { [
        "format": .string(\.format),
        "level": .string(\.level),
    ] }

    static var price: [String: ConfigField<ModelPrice>] { [
        "input_per_mtok": .double(\.inputPerMTok),
        "output_per_mtok": .double(\.outputPerMTok),
    ] }
}
