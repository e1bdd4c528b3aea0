import Foundation
import TOMLKit

extension ProxyConfig {
    /// Reads `proxy.conf` (when `path` is given, or `proxy.conf` exists in the working
    /// directory), then applies `PARROT_*` environment overrides, then validates.
    /// Unknown `PARROT_*` names are reported through `warn` rather than failing start-up.
    public static func load(
        path: String?,
        environment: [String: String],
        warn: (String) -> Void = { _ in }
    ) throws -> ProxyConfig {
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError(key: "--config", "cannot read \(path): \(unreadableReason(path))")
            }
            return try parse(toml: String(decoding: data, as: UTF8.self), file: path, environment: environment, warn: warn)
        } else if let data = FileManager.default.contents(atPath: "proxy.conf") {
            return try parse(toml: String(decoding: data, as: UTF8.self), file: "proxy.conf", environment: environment, warn: warn)
        }
        return try parse(toml: "", environment: environment, warn: warn)
    }

    /// Builds a configuration from TOML text and an environment, without touching the disk.
    /// `file` names the file the text came from, for messages (nil: no file).
    public static func parse(
        toml: String,
        file: String? = nil,
        environment: [String: String] = [:],
        warn: (String) -> Void = { _ in }
    ) throws -> ProxyConfig {
        var config = ProxyConfig()
        config.origins = ConfigOrigins(file: file)
        let source = "in \(file ?? "proxy.conf")"
        let table: TOMLTable
        do {
            table = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw ConfigError(key: file ?? "proxy.conf", "\(error.description) at line \(error.source.begin.line)")
        }
        do {
            guard case .table(let root) = try ConfigValue(toml: table, key: "") else { return config }
            try config.apply(root)
        } catch var error as ConfigError {
            if error.source == nil { error.source = source }
            throw error
        }
        try config.applyEnvironment(environment, warn: warn)
        try config.validate()
        return config
    }

    mutating func apply(_ root: [String: ConfigValue]) throws {
        for (section, value) in root {
            switch section {
            case "server": try Self.assign(value, to: &server, fields: ConfigSchema.server, key: section, origins: &origins)
            case "semantic": try Self.assign(value, to: &semantic, fields: ConfigSchema.semantic, key: section, origins: &origins)
            case "log": try Self.assign(value, to: &log, fields: ConfigSchema.log, key: section, origins: &origins)
            case "cache":
                guard case .table(var entries) = value else { throw ConfigError(key: section, "expected a table") }
                if let ttl = entries.removeValue(forKey: "endpoint_ttl_seconds") {
                    guard case .table(let byEndpoint) = ttl else { throw ConfigError(key: "cache.endpoint_ttl_seconds", "expected a table") }
                    for (endpoint, seconds) in byEndpoint {
                        let key = "cache.endpoint_ttl_seconds.\(endpoint)"
                        guard ConfigSchema.ttlEndpoints.contains(endpoint) else {
                            throw ConfigError(key: key, "unknown endpoint; use one of \(ConfigSchema.ttlEndpoints.joined(separator: ", "))")
                        }
                        guard case .int(let s) = seconds, s >= 0 else { throw ConfigError(key: key, "expected a non-negative integer") }
                        cache.endpointTTLSeconds[endpoint] = s
                        origins.record(key)
                    }
                }
                try Self.assign(.table(entries), to: &cache, fields: ConfigSchema.cache, key: section, origins: &origins)
            case "providers":
                guard case .table(let named) = value else { throw ConfigError(key: section, "expected a table of providers") }
                providers = [:]
                origins.record("providers")
                for (name, body) in named {
                    let key = "providers.\(name)"
                    guard name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }), !name.isEmpty else {
                        throw ConfigError(key: key, "provider names use only a-z, 0-9 and _")
                    }
                    guard case .table(var entries) = body else { throw ConfigError(key: key, "expected a table") }
                    var provider = ProviderConfig()
                    if let breaker = entries.removeValue(forKey: "breaker") {
                        try Self.assign(breaker, to: &provider.breaker, fields: ConfigSchema.breaker, key: "\(key).breaker", origins: &origins)
                    }
                    try Self.assign(.table(entries), to: &provider, fields: ConfigSchema.provider, key: key, origins: &origins)
                    origins.record(key)
                    providers[name] = provider
                }
            case "pricing":
                guard case .table(let models) = value else { throw ConfigError(key: section, "expected a table of models") }
                for (model, body) in models {
                    var price = pricing[model] ?? ModelPrice()
                    try Self.assign(body, to: &price, fields: ConfigSchema.price, key: "pricing.\"\(model)\"", origins: &origins)
                    pricing[model] = price
                }
            default:
                throw ConfigError(key: section, "unknown section; known: server, cache, semantic, providers, log, pricing")
            }
        }
    }

    static func assign<Root>(_ value: ConfigValue, to root: inout Root, fields: [String: ConfigField<Root>], key: String, origins: inout ConfigOrigins) throws {
        guard case .table(let entries) = value else { throw ConfigError(key: key, "expected a table, got \(value.shown)") }
        for (name, item) in entries {
            let fullKey = "\(key).\(name)"
            guard let field = fields[name] else {
                throw ConfigError(key: fullKey, "unknown key; known: \(fields.keys.sorted().joined(separator: ", "))")
            }
            try field.assign(&root, item, fullKey)
            origins.record(fullKey)
        }
    }

    /// `PARROT_<SECTION>_<KEY>` overrides, matched against the keys this configuration has
    /// (env never creates a provider). The match is exact on the generated names, which is the
    /// longest-key rule of DESIGN.md: `PARROT_PROVIDERS_OPENAI_BREAKER_OPEN_SECONDS` can only
    /// be the breaker key because no shorter key spells the same name.
    mutating func applyEnvironment(_ environment: [String: String], warn: (String) -> Void) throws {
        var known: [String: (String, (inout ProxyConfig, String) throws -> Void)] = [:]
        func register<Root>(_ prefix: String, _ fields: [String: ConfigField<Root>], _ path: WritableKeyPath<ProxyConfig, Root>) {
            for (name, field) in fields {
                let key = "\(prefix).\(name)"
                known[Self.environmentName(key)] = (key, { config, text in
                    try field.assign(&config[keyPath: path], try field.parse(text, key), key)
                })
            }
        }
        register("server", ConfigSchema.server, \.server)
        register("cache", ConfigSchema.cache, \.cache)
        register("semantic", ConfigSchema.semantic, \.semantic)
        register("log", ConfigSchema.log, \.log)
        for name in providers.keys {
            for (field, entry) in ConfigSchema.provider {
                let key = "providers.\(name).\(field)"
                known[Self.environmentName(key)] = (key, { config, text in
                    try entry.assign(&config.providers[name]!, try entry.parse(text, key), key)
                })
            }
            for (field, entry) in ConfigSchema.breaker {
                let key = "providers.\(name).breaker.\(field)"
                known[Self.environmentName(key)] = (key, { config, text in
                    try entry.assign(&config.providers[name]!.breaker, try entry.parse(text, key), key)
                })
            }
        }
        for endpoint in ConfigSchema.ttlEndpoints {
            let key = "cache.endpoint_ttl_seconds.\(endpoint)"
            known[Self.environmentName(key)] = (key, { config, text in
                guard let s = Int(text), s >= 0 else { throw ConfigError(key: key, "expected a non-negative integer, got '\(text)'") }
                config.cache.endpointTTLSeconds[endpoint] = s
            })
        }
        for (name, text) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("PARROT_") {
            guard let (key, apply) = known[name] else {
                warn("ignoring unknown environment variable \(name)")
                continue
            }
            do {
                try apply(&self, text)
                origins.record(key, from: name)
            } catch let error as ConfigError {
                throw ConfigError(key: key, source: "from \(name)", error.message)
            }
        }
    }
}


/// Why a file cannot be read, in words: `no such file`, `permission denied`, `is a directory`.
public func unreadableReason(_ path: String) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "no such file" }
    if isDirectory.boolValue { return "is a directory" }
    if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
    return "unreadable"
}

extension ProxyConfig {
    /// `server.port` → `PARROT_SERVER_PORT`.
    public static func environmentName(_ key: String) -> String {
        "PARROT_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }
}
