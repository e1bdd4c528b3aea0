import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore
import Synchronization

// Micro-benchmarks of Parrot's hot-path pieces, measured in-process (no sockets): the provider
// guard's state machines, key derivation, the memory tier, and the semantic index at 100k
// vectors. Build with -c release; prints measured numbers only.
//   swift build -c release --product parrot-bench && .build/release/parrot-bench [--quick]

let quick = CommandLine.arguments.contains("--quick")

// `parrot-bench --upstream URL [N]`: what one upstream call through Parrot's upstream client
// (AsyncHTTPClient, one keep-alive connection, sequential) costs in wall time and in this
// process's CPU, to split a miss's overhead between the upstream client and the rest.
if let flag = CommandLine.arguments.firstIndex(of: "--upstream"), CommandLine.arguments.count > flag + 1 {
    let base = CommandLine.arguments[flag + 1]
    let total = CommandLine.arguments.count > flag + 2 ? Int(CommandLine.arguments[flag + 2]) ?? 5000 : 5000
    await upstreamBenchmark(baseURL: base, requests: total)
    exit(0)
}

// `parrot-bench --embeddings PARROT_V1_URL [UPSTREAM_V1_URL]`: a 1,000-input embeddings batch
// through a running Parrot, all missing vs 90 % cached vs all cached (EmbeddingsBench.swift).
if CommandLine.arguments.contains("--embeddings") {
    await embeddingsBenchmark(arguments: Array(CommandLine.arguments.dropFirst()))
    exit(0)
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func upstreamBenchmark(baseURL: String, requests: Int) async {
    var config = ProviderConfig()
    config.baseURL = baseURL
    let client = HTTPUpstreamClient(provider: "bench", config: config)
    await timeSequentialCalls("Parrot's upstream client", requests: requests) { i in
        let body = ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"upstream bench \#(i)"}]}"#)
        let request = UpstreamRequest(method: .post, url: baseURL + "/chat/completions",
                                      headers: [("content-type", "application/json"), ("content-length", String(body.readableBytes))],
                                      body: .bytes(body))
        let response = try await client.send(request)
        for try await _ in response.body {}
    }
    try? await client.shutdown()
    // The same calls with a default AsyncHTTPClient (no decompression, no Parrot wrapper).
    let raw = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
    await timeSequentialCalls("plain AsyncHTTPClient (default configuration)", requests: requests) { i in
        var request = HTTPClientRequest(url: baseURL + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"raw bench \#(i)"}]}"#))
        let response = try await raw.execute(request, timeout: .seconds(30))
        for try await _ in response.body {}
    }
    try? await raw.shutdown()
}

/// 200 warm-up calls (the connection and the code paths), then `requests` timed ones, one at a
/// time: calls per second, per-call p50/p99 and this process's CPU per call.
func timeSequentialCalls(_ label: String, requests: Int, _ call: (Int) async throws -> Void) async {
    do {
        for i in 0..<200 { try await call(-i - 1) }
        var samples: [Double] = []
        samples.reserveCapacity(requests)
        let clock = ContinuousClock()
        let cpuBefore = cpuSeconds()
        let started = clock.now
        for i in 0..<requests {
            let t = clock.now
            try await call(i)
            let d = clock.now - t
            samples.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3)
        }
        let wall = clock.now - started
        let cpu = cpuSeconds() - cpuBefore
        let seconds = Double(wall.components.attoseconds) / 1e18 + Double(wall.components.seconds)
        samples.sort()
        print(label + String(format: ", %d sequential calls: %.0f calls/s, p50 %.3f ms, p99 %.3f ms, this process's CPU %.0f µs per call",
                     requests, Double(requests) / seconds, samples[requests / 2], samples[requests * 99 / 100], cpu * 1e6 / Double(requests)))
    } catch {
        print("\(label) failed: \(error)")
    }
}

func measure(_ name: String, iterations: Int, _ body: () -> Void) {
    for _ in 0..<min(iterations / 10, 10_000) { body() }  // warm-up
    let clock = ContinuousClock()
    let elapsed = clock.measure { for _ in 0..<iterations { body() } }
    let ns = Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9
    print(pad(name) + String(format: " %10.1f ns/op  (%d ops)", ns / Double(iterations), iterations))
}

/// `%-52@` does not pad on Linux Foundation, so names are padded here.
func pad(_ name: String) -> String { name.count >= 52 ? name : name + String(repeating: " ", count: 52 - name.count) }

func percentiles(_ name: String, samples: [Double]) {
    let sorted = samples.sorted()
    func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
    print(pad(name) + String(format: " p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%d searches)", p(0.5), p(0.99), sorted.last!, sorted.count))
}

print("parrot-bench — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 20) MiB")
print("")
print("Provider guard (state machines behind a Mutex, as the driver runs them)")
let n = quick ? 200_000 : 2_000_000
var now = 0.0
let breaker = Mutex(CircuitBreakerStateMachine(config: BreakerConfig()))
measure("breaker: requestArrived + requestSucceeded", iterations: n) {
    now += 0.001
    _ = breaker.withLock { $0.requestArrived(now: now) }
    _ = breaker.withLock { $0.requestSucceeded(now: now) }
}
let unlimited = Mutex(RateLimiterStateMachine(rpm: 0, tpm: 0, maxQueueWaitMs: 2000, now: 0))
measure("limiter (no limits): requestArrived", iterations: n) {
    _ = unlimited.withLock { $0.requestArrived(estimatedTokens: 100, now: now) }
}
let limiter = Mutex(RateLimiterStateMachine(rpm: 1_000_000_000, tpm: 1_000_000_000, maxQueueWaitMs: 2000, now: 0))
measure("limiter (rpm+tpm): requestArrived + usageReported", iterations: n) {
    now += 0.000001
    _ = limiter.withLock { $0.requestArrived(estimatedTokens: 100, now: now) }
    limiter.withLock { $0.usageReported(estimated: 100, actual: 120, now: now) }
}

print("")
print("Cache key and memory tier")
let body = Array(#"{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly."},{"role":"user","content":"\#(String(repeating: "Explain how a parrot learns words. ", count: 60))"}]}"#.utf8)
print("request body: \(body.count) bytes")
var key = CacheKey(digest: [])
measure("parse JSON body", iterations: quick ? 20_000 : 100_000) { _ = try! JSONParser.parse(body) }
let json = try! JSONParser.parse(body)
measure("canonical key (SHA-256) from parsed body", iterations: quick ? 20_000 : 100_000) {
    key = CacheKey(endpoint: .chatCompletions, provider: "openai", model: "gpt-4o-mini", namespace: "default", body: json, streamed: false)
}
let namespaces = NamespaceDeriver(secret: "bench-secret", shareAcrossKeys: false)
measure("namespace HMAC of a credential", iterations: quick ? 100_000 : 1_000_000) {
    _ = namespaces.namespace(credential: "Bearer sk-bench-key", name: nil)
}
let memory = MemoryTier(capacityBytes: 64 << 20)
let answer = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "a"), count: 2400))
for i in 0..<10_000 {
    let k = CacheKey(digest: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 7 &+ i >> 8) })
    memory.put(CachedAnswer(entry: CacheEntry(key: k, namespace: "default", endpoint: "/v1/chat/completions", provider: "openai", model: "m",
                                              mode: .json, status: 200, contentType: "application/json", body: answer, rawBytes: 2400,
                                              createdAt: 0, expiresAt: nil), identityBody: answer))
}
let probeKey = CacheKey(digest: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5000 &* 7 &+ 5000 >> 8) })
measure("memory tier get (10k entries)", iterations: n) { _ = memory.get(probeKey) }

let count = quick ? 20_000 : 100_000
let dimension = 384
/// A fast seeded generator: SystemRandomNumberGenerator makes a syscall per number, which would
/// dominate filling 100k × 384 values.
final class XorShift: @unchecked Sendable {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Float {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
}
let rng = XorShift()
func randomVector() -> [Float] { (0..<dimension).map { _ in rng.next() } }
func unit(_ v: [Float]) -> [Float] {
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / norm }
}
/// A query at exactly `cosine` to `v`: the stored request reworded, as the embedder sees it.
func paraphrase(of v: [Float], cosine: Float) -> [Float] {
    let u = unit(v)
    let noise = randomVector()
    let along = zip(noise, u).reduce(0) { $0 + $1.0 * $1.1 }
    let w = unit(zip(noise, u).map { $0 - along * $1 })
    return zip(u, w).map { cosine * $0 + (1 - cosine * cosine).squareRoot() * $1 }
}
func ms(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000 }

/// Fills one scope with `count` vectors from `make`, then times searches for fresh vectors (no
/// entry is that close: must miss) and for paraphrases at cosine 0.85 of stored ones (must hit).
func semanticScenario(_ title: String, make: () -> [Float]) {
    print("")
    print("Semantic index: \(title)")
    let rssBefore = residentBytes()
    let index = VectorIndex()
    var stored: [(CacheKey, [Float])] = []
    let clock = ContinuousClock()
    let fill = clock.measure {
        for i in 0..<count {
            let v = make()
            let key = CacheKey(digest: withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) } + Array(repeating: 0, count: 24))
            if i % (count / 1000) == 0 { stored.append((key, v)) }
            index.insert(key: key, scope: "s", vector: v, text: "text \(i)")
        }
    }
    let rssAfter = residentBytes()
    print(pad("fill (inserts, one thread)") + String(format: " %.1f s for %d vectors (%.0f inserts/s)", ms(fill) / 1000, count, Double(count) / (ms(fill) / 1000)))
    print(pad("index memory (RSS growth)") + String(format: " %.1f MiB for %d vectors (%.0f bytes each)",
                 Double(rssAfter - rssBefore) / 1048576, count, Double(rssAfter - rssBefore) / Double(count)))
    var missSamples: [Double] = [], hitSamples: [Double] = []
    var found = 0, falseHits = 0
    for i in 0..<(quick ? 300 : 1000) {
        let query = make()
        var match: VectorIndex.Match?
        missSamples.append(ms(clock.measure { match = index.search(scope: "s", vector: query, threshold: 0.8) }))
        if match != nil { falseHits += 1 }
        let (key, v) = stored[i % stored.count]
        let near = paraphrase(of: v, cosine: 0.85)
        hitSamples.append(ms(clock.measure { match = index.search(scope: "s", vector: near, threshold: 0.8) }))
        if match?.key == key { found += 1 }
    }
    percentiles("search, nothing within 0.8", samples: missSamples)
    percentiles("search, paraphrase at cosine 0.85 stored", samples: hitSamples)
    print("paraphrases found: \(found) of \(hitSamples.count); hits for fresh vectors: \(falseHits)")
}

semanticScenario("\(count) × \(dimension)-d random vectors, one scope (pairwise cosine ≈ 0)", make: randomVector)

// One topic: every vector shares a common direction, so pairwise cosines sit near 0.7 (as
// embeddings of one application's prompts do). This defeats cheap shortlists (random-hyperplane
// signatures let nearly the whole scope through), so it is the case the graph index is for.
let topic = unit(randomVector())
semanticScenario("\(count) × \(dimension)-d vectors of one topic, one scope (pairwise cosine ≈ 0.7)") {
    // Equal-norm parts weighted 1.53 : 1 give cos ≈ 1.53² / (1.53² + 1) ≈ 0.70 between two vectors.
    zip(topic, unit(randomVector())).map { 1.53 * $0 + $1 }
}

func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}
