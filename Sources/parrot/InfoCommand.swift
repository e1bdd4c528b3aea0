import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the local configuration in effect and the store's location and size (secrets never shown).",
        discussion: "Reads proxy.conf (or --config) and PARROT_* variables as 'parrot serve' would, and says whether an instance answers at the configured address. It never creates a store."
    )

    @OptionGroup var options: ConfigOptions
    @OptionGroup var instance: InstanceOptions

    func run() async throws {
        let config = try options.load(for: Self.self)
        let env = ProcessInfo.processInfo.environment
        func isSet(_ name: String) -> String { name.isEmpty ? "(none)" : "\(name) (\((env[name] ?? "").isEmpty ? "unset" : "set"))" }
        let base = instance.baseURL(config)
        let running = (try? await InstanceClient.call(.GET, base + "/healthz"))?.status == 200
        var rows: [[String]] = [
            ["config", config.origins.file.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? "none (built-in defaults, then PARROT_* variables)"],
            ["listen", "http://\(config.server.host):\(config.server.port)"],
            ["default provider", config.server.defaultProvider],
            ["admin token", isSet(config.server.adminTokenEnv)],
            ["client tokens", isSet(config.server.clientTokensEnv)],
            ["cache", "\(config.cache.enabled ? "read_write" : "off"), ttl \(Format.duration(seconds: Double(config.cache.ttlSeconds))), max \(Format.bytes(config.cache.maxBytes)), memory \(Format.bytes(config.cache.memoryBytes))"],
        ]
        if config.cache.store == "sqlite" {
            let path = URL(fileURLWithPath: config.cache.path).standardizedFileURL.path
            let attributes = try? FileManager.default.attributesOfItem(atPath: config.cache.path)
            let size = (attributes?[.size] as? NSNumber)?.intValue
            rows.append(["store", "sqlite \(path) (\(size.map { Format.bytes($0) } ?? "not created yet"))"])
        } else {
            rows.append(["store", "postgres (url from cache.postgres_url, not shown)"])
        }
        rows.append(["semantic tier", config.semantic.enabled ? "on, threshold \(config.semantic.threshold), model \(config.semantic.model)" : "off"])
        for (name, p) in config.providers.sorted(by: { $0.key < $1.key }) {
            let key = (env[p.apiKeyEnv] ?? "").isEmpty ? "key forwarded from the client (\(p.apiKeyEnv.isEmpty ? "api_key_env is empty" : "\(p.apiKeyEnv) is not set"))" : "key injected from \(p.apiKeyEnv)"
            rows.append(["provider \(name)", "\(p.baseURL)  models \(p.models.joined(separator: ","))  \(key)  rpm \(p.rpm == 0 ? "∞" : String(p.rpm))  tpm \(p.tpm == 0 ? "∞" : String(p.tpm))\(p.fallback.isEmpty ? "" : "  fallback \(p.fallback)")"])
        }
        let header = running
            ? "Parrot \(ParrotVersion.string) — local configuration (an instance answers at \(base); 'parrot stats' shows what it is doing)"
            : "Parrot \(ParrotVersion.string) — local configuration (no instance answers at \(base))"
        print(([header] + Format.leftTable(rows)).joined(separator: "\n"))
    }
}
