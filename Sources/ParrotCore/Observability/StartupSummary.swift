import Foundation

/// The block Parrot logs at `info` once it listens: what it read, where it listens, where each
/// provider's requests go and with whose key, where answers are stored, and which protections
/// are on. What a user checks first when something is not as expected; never a secret.
public struct StartupSummary: Sendable {
    public let config: ProxyConfig
    public let secrets: Secrets
    /// The port actually bound (differs from `server.port` when that is 0).
    public let port: Int

    public init(config: ProxyConfig, secrets: Secrets, port: Int) {
        self.config = config
        self.secrets = secrets
        self.port = port
    }

    /// `http://127.0.0.1:8080`; a wildcard listener is shown as the loopback address it also serves.
    public var listenURL: String {
        let host = config.server.host
        let shown = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "[::1]" : host.contains(":") ? "[\(host)]" : host
        return "http://\(shown):\(port)"
    }

    /// One line per fact, label and value aligned.
    public var lines: [String] {
        var rows: [(String, String)] = []
        rows.append(("config", config.origins.file.map { "\($0) (\(Self.absolute($0)))" } ?? "none (built-in defaults, then PARROT_* variables)"))
        rows.append(("listen", "\(listenURL)  (clients: OPENAI_BASE_URL=\(listenURL)/v1)"))
        for (name, provider) in config.providers.sorted(by: { $0.key < $1.key }) {
            rows.append(("provider \(name)", "\(provider.baseURL)  models \(provider.models.joined(separator: ","))  \(keyMode(name, provider))"))
        }
        if config.cache.store == "postgres" {
            rows.append(("store", "postgres \(Self.redacted(config.cache.postgresUrl))"))
        } else {
            rows.append(("store", "sqlite \(Self.absolute(config.cache.path))"))
        }
        rows.append(("cache mode", config.cache.enabled ? "read_write" : "off (cache.enabled = false)"))
        rows.append(("semantic tier", config.semantic.enabled
            ? "on (threshold \(config.semantic.threshold), \(config.semantic.model) via \(config.semantic.embeddingProvider))" : "off"))
        rows.append(("admin auth", secrets.adminToken != nil
            ? "on (token from \(config.server.adminTokenEnv))"
            : ProxyConfig.isLoopback(config.server.host) ? "off (admin endpoints open on this loopback listener)" : "off (admin endpoints answer 403)"))
        rows.append(("client auth", secrets.clientTokens.isEmpty ? "off (any client is served)" : "on (\(secrets.clientTokens.count) tokens from \(config.server.clientTokensEnv))"))
        rows.append(("dashboard", "\(listenURL)/dashboard"))
        let width = rows.map(\.0.count).max() ?? 0
        return ["Parrot started"] + rows.map { "  " + $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }
    }

    /// `key injected from OPENAI_API_KEY` or `key forwarded from the client (…)`.
    func keyMode(_ name: String, _ provider: ProviderConfig) -> String {
        if secrets.providerKeys[name] != nil { return "key injected from \(provider.apiKeyEnv)" }
        if provider.apiKeyEnv.isEmpty { return "key forwarded from the client (api_key_env is empty)" }
        return "key forwarded from the client (\(provider.apiKeyEnv) is not set)"
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// A PostgreSQL URL without its password.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "(cache.postgres_url)" }
        if parts.password != nil { parts.password = "***" }
        return parts.string ?? "(cache.postgres_url)"
    }
}
