import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print the configuration in effect and the store's location and size (secrets never shown)."
    )

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let env = ProcessInfo.processInfo.environment
        func isSet(_ name: String) -> String { name.isEmpty ? "(none)" : "\(name) (\((env[name] ?? "").isEmpty ? "unset" : "set"))" }
        var lines = [
            "Parrot \(ParrotVersion.string)",
            "listen             http://\(config.server.host):\(config.server.port)",
            "default provider   \(config.server.defaultProvider)",
            "admin token        \(isSet(config.server.adminTokenEnv))",
            "client tokens      \(isSet(config.server.clientTokensEnv))",
            "cache              \(config.cache.enabled ? "enabled" : "disabled"), store \(config.cache.store), ttl \(config.cache.ttlSeconds) s, max \(config.cache.maxBytes) B, memory \(config.cache.memoryBytes) B",
        ]
        if config.cache.store == "sqlite" {
            let attributes = try? FileManager.default.attributesOfItem(atPath: config.cache.path)
            let size = (attributes?[.size] as? NSNumber)?.intValue
            lines.append("store path         \(config.cache.path) (\(size.map { "\($0) bytes" } ?? "not created yet"))")
        } else {
            lines.append("store              postgres (url from cache.postgres_url, not shown)")
        }
        lines.append("semantic tier      \(config.semantic.enabled ? "on, threshold \(config.semantic.threshold), model \(config.semantic.model)" : "off")")
        for (name, p) in config.providers.sorted(by: { $0.key < $1.key }) {
            lines.append("provider \(name)".padding(toLength: 19, withPad: " ", startingAt: 0)
                + "\(p.baseURL)  models \(p.models.joined(separator: ","))  key \(isSet(p.apiKeyEnv))  rpm \(p.rpm == 0 ? "∞" : String(p.rpm))  tpm \(p.tpm == 0 ? "∞" : String(p.tpm))\(p.fallback.isEmpty ? "" : "  fallback \(p.fallback)")")
        }
        print(lines.joined(separator: "\n"))
    }
}
