import Foundation
@testable import ParrotCore
import XCTest

/// docs/configuration.md and proxy.conf list every key Parrot knows, with the right environment
/// variable and default: checked against `ConfigSchema`, so neither can drift.
final class ConfigDocsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every key, with `NAME` for a provider and `"MODEL"` for a priced model.
    static var schemaKeys: Set<String> {
        var keys: Set<String> = []
        keys.formUnion(ConfigSchema.server.keys.map { "server.\($0)" })
        keys.formUnion(ConfigSchema.cache.keys.map { "cache.\($0)" })
        keys.formUnion(ConfigSchema.ttlEndpoints.map { "cache.endpoint_ttl_seconds.\($0)" })
        keys.formUnion(ConfigSchema.semantic.keys.map { "semantic.\($0)" })
        keys.formUnion(ConfigSchema.provider.keys.map { "providers.NAME.\($0)" })
        keys.formUnion(ConfigSchema.breaker.keys.map { "providers.NAME.breaker.\($0)" })
        keys.formUnion(ConfigSchema.log.keys.map { "log.\($0)" })
        keys.formUnion(ConfigSchema.price.keys.map { "pricing.\"MODEL\".\($0)" })
        return keys
    }

    func testTheConfigurationReferenceListsEveryKeyWithItsVariableAndDefault() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var rows: [(key: String, env: String, value: String)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5 else { continue }
            func unquote(_ s: String) -> String { s.hasPrefix("`") && s.hasSuffix("`") && s.count >= 2 ? String(s.dropFirst().dropLast()) : s }
            rows.append((unquote(cells[1]), unquote(cells[2]), unquote(cells[3])))
        }
        let documented = Set(rows.map(\.key))
        XCTAssertEqual(documented.subtracting(Self.schemaKeys), [], "documented but unknown to Parrot")
        XCTAssertEqual(Self.schemaKeys.subtracting(documented), [], "known to Parrot but not documented")
        XCTAssertEqual(rows.count, documented.count, "a key documented twice")

        var toml: [String: [String]] = [:]
        for row in rows {
            if row.key.hasPrefix("pricing.") {
                XCTAssertEqual(row.env, "(file only)", row.key)
                continue
            }
            XCTAssertEqual(row.env, ProxyConfig.environmentName(row.key), row.key)
            guard !row.key.hasPrefix("cache.endpoint_ttl_seconds.") else { continue }
            let key = row.key.replacingOccurrences(of: "providers.NAME", with: "providers.openai")
            let dot = key.lastIndex(of: ".")!
            toml[String(key[..<dot]), default: []].append("\(key[key.index(after: dot)...]) = \(row.value)")
        }
        // The documented defaults, read as a proxy.conf, are Parrot's defaults.
        let file = toml.sorted { $0.key < $1.key }.map { "[\($0.key)]\n" + $0.value.joined(separator: "\n") }.joined(separator: "\n")
        let config = try ProxyConfig.parse(toml: file)
        let defaults = ProxyConfig()
        XCTAssertEqual(config.server, defaults.server)
        XCTAssertEqual(config.cache, defaults.cache)
        XCTAssertEqual(config.semantic, defaults.semantic)
        XCTAssertEqual(config.log, defaults.log)
        XCTAssertEqual(config.providers, defaults.providers)
    }

    func testProxyConfListsEveryKey() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("proxy.conf"), encoding: .utf8)
        var section = ""
        var listed: Set<String> = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("[") {
                section = String(line.dropFirst().prefix { $0 != "]" })
                    .replacingOccurrences(of: "providers.openai", with: "providers.NAME")
                    .replacingOccurrences(of: "pricing.\"gpt-4o-mini\"", with: "pricing.\"MODEL\"")
                continue
            }
            // Keys may be commented out (per-endpoint TTLs have no default of their own).
            let body = line.hasPrefix("# ") ? String(line.dropFirst(2)) : line
            guard let match = body.range(of: #"^[a-z_]+(?= *=)"#, options: .regularExpression), !section.isEmpty else { continue }
            listed.insert("\(section).\(body[match])")
        }
        XCTAssertEqual(Self.schemaKeys.subtracting(listed), [], "keys missing from proxy.conf")
        XCTAssertEqual(listed.subtracting(Self.schemaKeys), [], "proxy.conf lists keys Parrot does not know")
    }
}
