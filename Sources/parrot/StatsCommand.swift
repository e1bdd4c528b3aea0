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
    @OptionGroup var instance: InstanceOptions
    @Flag(help: "Print the raw /stats JSON.") var json = false

    func run() async throws {
        let config = try options.load(for: Self.self)
        let base = instance.baseURL(config)
        if let answer = try? await InstanceClient.call(.GET, base + "/stats"), answer.status == 200 {
            if json {
                print(answer.body)
            } else if let stats = try? JSONParser.parse(Array(answer.body.utf8)) {
                print(StatsTable.render(stats, source: base))
            } else {
                throw UsageFailure(message: "\(base)/stats did not answer with Parrot's JSON; is --url pointing at Parrot?", command: Self.self)
            }
            return
        }
        printError("no running instance answered at \(base); showing store-only figures")
        // Read-only: a store that does not exist yet is reported, never created.
        if config.cache.store == "sqlite", !FileManager.default.fileExists(atPath: config.cache.path) {
            let path = URL(fileURLWithPath: config.cache.path).standardizedFileURL.path
            if json {
                print(JSONValue.object([("source", .string("store")), ("path", .string(path)), ("exists", .bool(false))]).jsonString)
            } else {
                print("No store at \(path) yet: nothing has been cached with this configuration.")
            }
            return
        }
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
            print((["Store (\(config.cache.store), \(summary.path)) — no running instance"] + Format.table([
                ["entries", "\(summary.entries)"],
                ["stored", Format.bytes(summary.bytes)],
                ["compression", Format.ratio(summary.compressionRatio)],
                ["hits recorded", "\(summary.hits)"],
            ])).joined(separator: "\n"))
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
        func size(_ v: JSONValue?) -> String { v?.intValue.map(Format.bytes) ?? "-" }
        var lines = ["Parrot at \(source) — up \(Format.duration(seconds: s["uptime_s"]?.doubleValue ?? 0)), \(n(s["requests"])) requests", "", "Cache"]
        var cacheRows = [
            ["hit rate", Format.percent(c["hit_rate"]?.doubleValue ?? 0)],
            ["hits", n(c["hits"])], ["semantic hits", n(c["semantic_hits"])], ["stale", n(c["stale"])],
            ["misses", n(c["misses"])], ["bypass", n(c["bypass"])],
            ["entries", n(c["entries"])], ["stored", size(c["bytes"])],
            ["compression", c["compression_ratio"]?.doubleValue.map(Format.ratio) ?? "-"],
            ["tokens saved", n(c["tokens_saved"])], ["cost saved", Format.money(c["cost_saved_usd"]?.doubleValue ?? 0)],
        ]
        if let unpriced = c["unpriced_models"]?.arrayValue, !unpriced.isEmpty {
            cacheRows.append(["unpriced models", unpriced.compactMap(\.stringValue).joined(separator: ", ")])
        }
        if let partial = c["partial_hits"]?.intValue {
            cacheRows.insert(["partial hits", "\(partial)"], at: 5)
        }
        if let cached = c["embedding_inputs_cached"]?.intValue, let fetched = c["embedding_inputs_fetched"]?.intValue {
            cacheRows.append(["embedding inputs", "\(cached) cached, \(fetched) fetched"])
        }
        lines += Format.table(cacheRows)
        // The dry run: what the offline misses (only-if-cached, replay mode) would have cost.
        lines += Format.leftTable([[
            "offline misses",
            "\(n(c["offline_misses"])) (would cost ~\(n(c["offline_miss_tokens"])) tokens, \(Format.money(c["offline_miss_cost_usd"]?.doubleValue ?? 0)))",
        ]])
        if let endpoints = c["by_endpoint"]?.objectValue, !endpoints.isEmpty {
            lines.append("")
            lines.append("By endpoint")
            var rows = [["", "hits", "misses", "partial", "tokens saved", "cost saved"]]
            for (path, e) in endpoints {
                rows.append([path, n(e["hits"]), n(e["misses"]), n(e["partial_hits"]), n(e["tokens_saved"]),
                             Format.money(e["cost_saved_usd"]?.doubleValue ?? 0)])
            }
            lines += Format.table(rows)
        }
        lines.append("")
        lines.append("Latency (ms)")
        var latency = [["", "count", "p50", "p95", "p99", "max"]]
        for op in ["hit", "miss", "upstream", "overhead"] {
            let l = s["latency_ms"]?[op]
            latency.append([op, n(l?["count"]), n(l?["p50"]), n(l?["p95"]), n(l?["p99"]), n(l?["max"])])
        }
        lines += Format.table(latency)
        lines.append("")
        lines.append("Providers")
        var providers = [["", "requests", "errors", "limited", "breaker", "in-flight"]]
        for (name, p) in s["providers"]?.objectValue ?? [] {
            providers.append([name, n(p["requests"]), n(p["errors"]), n(p["rate_limited"]), n(p["breaker"]?["state"]), n(p["pool"]?["in_flight"])])
        }
        lines += Format.table(providers)
        lines.append("")
        lines += Format.table([["memory (RSS)", size(s["memory"]?["rss_bytes"])]], indent: "")
        return lines.joined(separator: "\n")
    }
}
