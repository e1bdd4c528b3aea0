import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore

/// `parrot-bench --embeddings PARROT_URL [UPSTREAM_URL] [--rounds N] [--inputs N] [--dimensions N]`:
/// a batch of `inputs` (1,000) embeddings inputs through a running Parrot, in three shapes per
/// round, each with inputs never seen before where it says so:
/// - all miss: every input new (one upstream call for the whole batch),
/// - 90 % cached: 900 inputs of the all-miss batch plus 100 new ones (one upstream call, 100 inputs),
/// - all cached: the 90 % batch again (no upstream call).
/// Prints each shape's latency (median and min over the rounds) and its ratio to the all-miss
/// batch, and checks `X-Parrot-Cache`, `X-Parrot-Cached-Inputs` and the provider's upstream call
/// count from `/stats` on every request. With UPSTREAM_URL (the provider's `/v1` base), the same
/// batches are also sent straight to the provider for reference.
func embeddingsBenchmark(arguments: [String]) async {
    func option(_ name: String, _ fallback: Int) -> Int {
        guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let n = Int(arguments[i + 1]) else { return fallback }
        return n
    }
    let positional = arguments.filter { $0.hasPrefix("http") }
    guard let parrot = positional.first else {
        print("usage: parrot-bench --embeddings PARROT_URL [UPSTREAM_V1_URL] [--rounds N] [--inputs N] [--dimensions N]")
        return
    }
    let upstream = positional.dropFirst().first
    let rounds = max(1, option("--rounds", 5))
    let size = max(10, option("--inputs", 1000))
    let dimensions = max(1, option("--dimensions", 1536))
    let cachedShare = size * 9 / 10
    let run = UUID().uuidString.prefix(8)
    let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

    struct Reply {
        var milliseconds: Double
        var cache: String?
        var cachedInputs: String?
        var vectors: Int
    }

    func post(_ base: String, _ texts: [String]) async throws -> Reply {
        var request = HTTPClientRequest(url: base + "/embeddings")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "authorization", value: "Bearer sk-bench")
        let body = JSONValue.object([
            ("model", .string("text-embedding-3-small")), ("input", .array(texts.map(JSONValue.string))),
            ("dimensions", .int(dimensions)), ("encoding_format", .string("base64")),
        ])
        request.body = .bytes(body.byteBuffer)
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 512 << 20)
        let elapsed = ContinuousClock.now - started
        guard response.status == .ok else { throw BenchError("\(base): status \(response.status.code): \(String(buffer: bytes).prefix(300))") }
        let count = (try? JSONParser.parse(Array(bytes.readableBytesView)))?["data"]?.arrayValue?.count ?? 0
        return Reply(milliseconds: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000,
                     cache: response.headers.first(name: "x-parrot-cache"),
                     cachedInputs: response.headers.first(name: "x-parrot-cached-inputs"), vectors: count)
    }

    func upstreamCalls() async throws -> Int {
        let response = try await client.execute(HTTPClientRequest(url: (parrot.hasSuffix("/v1") ? String(parrot.dropLast(3)) : parrot) + "/stats"),
                                                timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let stats = try JSONParser.parse(Array(bytes.readableBytesView))
        return stats["providers"]?.objectValue?.reduce(0) { $0 + ($1.1["requests"]?.intValue ?? 0) } ?? 0
    }

    func texts(_ tag: String, _ count: Int) -> [String] {
        (0..<count).map { "bench \(run) \(tag) input \($0): a sentence of about the length people embed in retrieval" }
    }

    var allMiss: [Double] = [], partial: [Double] = [], allHit: [Double] = []
    var directAll: [Double] = [], directMissing: [Double] = []
    do {
        // Warm-up: connections and code paths, not measured.
        _ = try await post(parrot, texts("warm", 10))
        for round in 0..<rounds {
            let first = texts("r\(round)-a", size)
            var calls = try await upstreamCalls()
            let miss = try await post(parrot, first)
            guard miss.cache == "MISS", miss.cachedInputs == "0/\(size)", miss.vectors == size else {
                throw BenchError("all-miss batch answered \(miss.cache ?? "-") \(miss.cachedInputs ?? "-") with \(miss.vectors) vectors")
            }
            var now = try await upstreamCalls()
            guard now - calls == 1 else { throw BenchError("all-miss batch made \(now - calls) upstream calls, expected 1") }
            calls = now
            let mixed = Array(first.prefix(cachedShare)) + texts("r\(round)-b", size - cachedShare)
            let part = try await post(parrot, mixed)
            guard part.cache == "PARTIAL", part.cachedInputs == "\(cachedShare)/\(size)", part.vectors == size else {
                throw BenchError("90 % batch answered \(part.cache ?? "-") \(part.cachedInputs ?? "-") with \(part.vectors) vectors")
            }
            now = try await upstreamCalls()
            guard now - calls == 1 else { throw BenchError("90 % batch made \(now - calls) upstream calls, expected 1") }
            calls = now
            let hit = try await post(parrot, mixed)
            guard hit.cache == "HIT", hit.vectors == size else { throw BenchError("repeat answered \(hit.cache ?? "-")") }
            now = try await upstreamCalls()
            guard now == calls else { throw BenchError("the all-cached batch made \(now - calls) upstream calls") }
            allMiss.append(miss.milliseconds)
            partial.append(part.milliseconds)
            allHit.append(hit.milliseconds)
            if let upstream {
                directAll.append(try await post(upstream, texts("r\(round)-direct-a", size)).milliseconds)
                directMissing.append(try await post(upstream, texts("r\(round)-direct-b", size - cachedShare)).milliseconds)
            }
        }
    } catch {
        print("embeddings benchmark failed: \(error)")
        try? await client.shutdown()
        return
    }
    try? await client.shutdown()

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let base = median(allMiss)
    print("Embeddings batch of \(size) inputs × \(dimensions) dimensions (base64), \(rounds) rounds, fresh inputs each round")
    func line(_ label: String, _ values: [Double]) {
        print(String(format: "  %@ median %8.1f ms, min %8.1f ms, %5.2f× the all-miss batch",
                     label.padding(toLength: 44, withPad: " ", startingAt: 0), median(values), values.min()!, median(values) / base))
    }
    line("through Parrot, all miss (1 upstream call):", allMiss)
    line("through Parrot, 90 % cached (1 call, \(size - cachedShare) in):", partial)
    line("through Parrot, all cached (no call):", allHit)
    if !directAll.isEmpty {
        line("straight to the upstream, \(size) inputs:", directAll)
        line("straight to the upstream, \(size - cachedShare) inputs:", directMissing)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
