import Foundation

extension ProxyConfig {
    /// Checks what single keys cannot: references between sections, URLs, routing conflicts.
    /// Every failure names the key to fix.
    public func validate() throws {
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
        if cache.store == "sqlite", cache.path.isEmpty { throw ConfigError(key: "cache.path", "must not be empty") }
        if providers.isEmpty { throw ConfigError(key: "providers", "at least one provider is needed") }
        guard providers[server.defaultProvider] != nil else {
            throw ConfigError(key: "server.default_provider", "no provider named \"\(server.defaultProvider)\"; configured: \(providers.keys.sorted().joined(separator: ", "))")
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
            throw ConfigError(key: "semantic.embedding_provider", "no provider named \"\(semantic.embeddingProvider)\"")
        }
        guard ["text", "json"].contains(log.format) else {
            throw ConfigError(key: "log.format", "must be \"text\" or \"json\", got \"\(log.format)\"")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(log.level) else {
            throw ConfigError(key: "log.level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// Resolves the secrets the configuration names from `environment`, and refuses the one
    /// unsafe default: a paid key injected on a non-loopback listener that anyone may use.
    public func resolveSecrets(environment: [String: String]) throws -> Secrets {
        func value(_ name: String) -> String? {
            guard !name.isEmpty, let v = environment[name], !v.isEmpty else { return nil }
            return v
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
                key: "server.client_tokens_env",
                "listening on \(server.host) with a provider key injected from api_key_env and no client tokens would be an open relay of that key; set server.client_tokens_env, or server.allow_open_relay = true"
            )
        }
        return secrets
    }

    static func isLoopback(_ host: String) -> Bool {
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
