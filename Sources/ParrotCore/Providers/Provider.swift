import Foundation
import Logging

/// A configured provider at run time: the key Parrot injects (if any) and the only way to it,
/// its guarded transport (one connection pool for the process).
public final class Provider: Sendable {
    public let name: String
    public let config: ProviderConfig
    /// From `api_key_env`; nil means the client's own `Authorization` is forwarded.
    let apiKey: String?
    let upstream: GuardedUpstream

    init(name: String, config: ProviderConfig, client: any UpstreamClient, apiKey: String?, stats: Stats.ProviderCounters?, logger: Logger,
         clock: any ParrotClock = SystemClock()) {
        self.name = name
        self.config = config
        self.apiKey = apiKey
        self.upstream = GuardedUpstream(provider: name, config: config, transport: client, stats: stats, logger: logger,
                                        clock: { clock.monotonic })
    }

    /// `base_url` + the request path without its leading `/v1` + the query.
    func url(path: String, query: String?) -> String {
        var base = config.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let rest = path.hasPrefix("/v1") ? String(path.dropFirst(3)) : path
        if let query, !query.isEmpty { return base + rest + "?" + query }
        return base + rest
    }
}
