import ArgumentParser
import Foundation
import Logging
import ParrotCore

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show hit rate, savings, latencies and provider health of a running instance.",
        discussion: "Falls back to figures read from the store (and says so) when no instance answers."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Base URL of the running instance (default: from config).") var url: String?
    @Flag(help: "Print the raw /stats JSON.") var json = false

    func run() async throws {
        let config = try options.load()
        let base = instanceURL(url, config)
        if let answer = try? await InstanceClient.call(.GET, base + "/stats"), answer.status == 200 {
            if json {
                print(answer.body)
            } else if let stats = try? JSONParser.parse(Array(answer.body.utf8)) {
                print(StatsTable.render(stats, source: base))
            }
            return
        }
        printError("no running instance answered at \(base); showing store-only figures")
        let store = try await openStore(config: config.cache, logger: Logger(label: "parrot"))
        let summary = try await store.summary()
        try await store.close()
        if json {
            print(JSONValue.object([
                ("source", .string("store")), ("entries", .int(summary.entries)), ("bytes", .int(summary.bytes)),
                ("raw_bytes", .int(summary.rawBytes)), ("compression_ratio", .number(String(format: "%.3f", summary.compressionRatio))),
                ("hit_count", .int(summary.hits)),
            ]).jsonString)
        } else {
            print("""
                Store (\(config.cache.store), \(summary.path)) — no running instance
                  entries            \(summary.entries)
                  stored bytes       \(summary.bytes)
                  compression ratio  \(String(format: "%.2f", summary.compressionRatio))×
                  hits recorded      \(summary.hits)
                """)
        }
    }
}

/// The human-readable `parrot stats` view of a `/stats` document.
enum StatsTable {
    static func render(_ s: JSONValue, source: String) -> String {
        let c = s["cache"] ?? .null
        func n(_ v: JSONValue?) -> String {
            guard let v else { return "-" }
            if case .number(let text) = v { return text }
            if case .string(let text) = v { return text }
            return v == .null ? "-" : v.jsonString
        }
        var lines = [
            "Parrot at \(source) — up \(n(s["uptime_s"])) s, \(n(s["requests"])) requests",
            "",
            "Cache",
            "  hit rate           \(String(format: "%.1f %%", (c["hit_rate"]?.doubleValue ?? 0) * 100))",
            "  hits / semantic / stale / misses / bypass   \(n(c["hits"])) / \(n(c["semantic_hits"])) / \(n(c["stale"])) / \(n(c["misses"])) / \(n(c["bypass"]))",
            "  entries            \(n(c["entries"]))   stored bytes \(n(c["bytes"]))   compression \(n(c["compression_ratio"]))×",
            "  tokens saved       \(n(c["tokens_saved"]))   cost saved $\(n(c["cost_saved_usd"]))",
        ]
        if let unpriced = c["unpriced_models"]?.arrayValue, !unpriced.isEmpty {
            lines.append("  unpriced models    \(unpriced.compactMap(\.stringValue).joined(separator: ", "))")
        }
        lines.append("")
        lines.append("Latency (ms)        count      p50      p95      p99      max")
        for op in ["hit", "miss", "upstream", "overhead"] {
            let l = s["latency_ms"]?[op]
            lines.append("  " + op.padding(toLength: 16, withPad: " ", startingAt: 0)
                + [n(l?["count"]), n(l?["p50"]), n(l?["p95"]), n(l?["p99"]), n(l?["max"])].map { $0.leftPadded(9) }.joined())
        }
        lines.append("")
        lines.append("Providers           requests   errors  limited  breaker    in-flight")
        for (name, p) in s["providers"]?.objectValue ?? [] {
            lines.append("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + n(p["requests"]).leftPadded(9) + n(p["errors"]).leftPadded(9) + n(p["rate_limited"]).leftPadded(9)
                + "  " + n(p["breaker"]?["state"]).padding(toLength: 10, withPad: " ", startingAt: 0)
                + n(p["pool"]?["in_flight"]).leftPadded(6))
        }
        lines.append("")
        lines.append("Memory RSS          \(n(s["memory"]?["rss_bytes"])) bytes")
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
