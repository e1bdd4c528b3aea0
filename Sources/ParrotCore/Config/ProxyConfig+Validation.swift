import Foundation

extension ProxyConfig {
    /// Checks what single keys cannot: references between sections, URLs, routing conflicts.
    /// Every failure names the key to fix and where its value came from.
    public func validate() throws {
        do {
            try checkValues()
        } catch var error as ConfigError {
            if error.source == nil { error.source = origins.describe(error.key) }
            throw error
        }
    }

    /// What to add to "no provider named X" when X is the built-in provider that defining
    /// `[providers.*]` replaced.
    private func replacedDefaultHint(_ name: String, key: String) -> String {
        guard name == "openai", providers["openai"] == nil, origins.isSet("providers") else { return "" }
        let names = providers.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        return "; defining [providers.*] replaces the built-in \"openai\" provider, so set \(key) to one of \(names) (or define [providers.openai] too)"
    }

    private func checkValues() throws {
        if server.host.isEmpty { throw ConfigError(key: "server.host", "must not be empty") }
        for host in server.allowedHosts where !Self.isHostName(host) {
            throw ConfigError(key: "server.allowed_hosts", "\"\(host)\" is not a host name (e.g. \"parrot.internal\" or \"parrot.internal:8080\")")
        }
        for origin in server.allowedOrigins where RequestScreen.normalizedOrigin(origin) == nil {
            throw ConfigError(key: "server.allowed_origins", "\"\(origin)\" is not an origin: scheme://host[:port], e.g. \"http://localhost:3000\"")
        }
        guard ["sqlite", "postgres"].contains(cache.store) else {
            throw ConfigError(key: "cache.store", "must be \"sqlite\" or \"postgres\", got \"\(cache.store)\"")
        }
        if cache.store == "postgres", cache.postgresUrl.isEmpty {
            throw ConfigError(key: "cache.postgres_url", "required when cache.store = \"postgres\"")
        }
        guard CacheMode(rawValue: cache.mode) != nil else {
            throw ConfigError(key: "cache.mode", "must be one of \(CacheMode.names), got \"\(cache.mode)\"")
        }
        if cache.store == "sqlite", cache.path.isEmpty { throw ConfigError(key: "cache.path", "must not be empty") }
        if providers.isEmpty { throw ConfigError(key: "providers", "at least one provider is needed") }
        guard providers[server.defaultProvider] != nil else {
            throw ConfigError(key: "server.default_provider", "no provider named \"\(server.defaultProvider)\""
                + (replacedDefaultHint(server.defaultProvider, key: "server.default_provider").nonEmpty
                    ?? "; configured: \(providers.keys.sorted().joined(separator: ", "))"))
        }
        for (name, provider) in providers {
            let key = "providers.\(name)"
            guard let url = URL(string: provider.baseURL), let scheme = url.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), url.host != nil
            else {
                throw ConfigError(key: "\(key).base_url", "must be an http(s) URL, got \"\(provider.baseURL)\"")
            }
            if !provider.fallback.isEmpty {
                guard provider.fallback != name, providers[provider.fallback] != nil else {
                    throw ConfigError(key: "\(key).fallback", "must name another configured provider, got \"\(provider.fallback)\"")
                }
            }
            if provider.models.contains(where: { $0.isEmpty }) {
                throw ConfigError(key: "\(key).models", "model patterns must not be empty")
            }
        }
        _ = try ModelRouter(providers: providers, defaultProvider: server.defaultProvider)
        if semantic.enabled, providers[semantic.embeddingProvider] == nil {
            throw ConfigError(key: "semantic.embedding_provider", "no provider named \"\(semantic.embeddingProvider)\""
                + (replacedDefaultHint(semantic.embeddingProvider, key: "semantic.embedding_provider").nonEmpty
                    ?? "; configured: \(providers.keys.sorted().joined(separator: ", "))"))
        }
        guard ["text", "json"].contains(log.format) else {
            throw ConfigError(key: "log.format", "must be \"text\" or \"json\", got \"\(log.format)\"")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(log.level) else {
            throw ConfigError(key: "log.level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// Resolves the secrets the configuration names from `environment`, and refuses what would
    /// fail open: a `*_env` key naming a variable that is unset or empty (admin endpoints or the
    /// proxy itself left unprotected without a word), and a paid key injected on a non-loopback
    /// listener that anyone may use. `api_key_env` is the exception: an unset variable means
    /// "forward the client's key", a mode of its own that the start-up summary names.
    public func resolveSecrets(environment: [String: String]) throws -> Secrets {
        func value(_ name: String) -> String? {
            guard !name.isEmpty, let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        for (key, name, consequence) in [
            ("server.admin_token_env", server.adminTokenEnv, "admin endpoints (DELETE /cache, POST /stats/reset) would be unprotected"),
            ("server.client_tokens_env", server.clientTokensEnv, "every client would be served without a token"),
            ("cache.namespace_secret_env", cache.namespaceSecretEnv, "namespaces would be derived from a different secret"),
        ] where !name.isEmpty && value(name) == nil {
            let state = environment[name] == nil ? "is not set" : "is empty"
            throw ConfigError(key: key, source: origins.describe(key),
                              "names the variable \(name), which \(state); without it \(consequence). Set \(name), or remove \(key)")
        }
        var keys: [String: String] = [:]
        for (name, provider) in providers {
            if let key = value(provider.apiKeyEnv) { keys[name] = key }
        }
        let clientTokens = Set(
            (value(server.clientTokensEnv) ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        )
        let secrets = Secrets(
            providerKeys: keys,
            adminToken: value(server.adminTokenEnv),
            clientTokens: clientTokens,
            namespaceSecret: value(cache.namespaceSecretEnv)
        )
        if !Self.isLoopback(server.host), !keys.isEmpty, clientTokens.isEmpty, !server.allowOpenRelay {
            throw ConfigError(
                key: "server.client_tokens_env", source: origins.describe("server.host"),
                "listening on \(server.host) with a provider key injected from api_key_env and no client tokens would be an open relay of that key; set server.client_tokens_env, or server.allow_open_relay = true"
            )
        }
        return secrets
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// A `Host` value: a name or address, optionally `:port`; no scheme, path or spaces.
    static func isHostName(_ host: String) -> Bool {
        !host.isEmpty && host != "*" && host.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "/") && byte != UInt8(ascii: "@") && byte != UInt8(ascii: "?")
                && byte != UInt8(ascii: "#") && byte != UInt8(ascii: ",")
        }
    }
}

/// Secrets resolved from the environment at start-up. Never logged, never in `/stats`.
public struct Secrets: Sendable {
    public var providerKeys: [String: String]
    public var adminToken: String?
    public var clientTokens: Set<String>
    public var namespaceSecret: String?

    public init(providerKeys: [String: String] = [:], adminToken: String? = nil, clientTokens: Set<String> = [], namespaceSecret: String? = nil) {
        self.providerKeys = providerKeys
        self.adminToken = adminToken
        self.clientTokens = clientTokens
        self.namespaceSecret = namespaceSecret
    }
}

extension String {
    /// nil for the empty string, for `a.nonEmpty ?? b`.
    var nonEmpty: String? { isEmpty ? nil : self }
}
