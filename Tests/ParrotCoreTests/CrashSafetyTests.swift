import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore
import ParrotMock
import Synchronization
import XCTest

/// Parrot as a real process, killed with `kill -9` under load: the store must always reopen
/// sound, and nothing but complete answers, byte-identical to what the upstream sent, may ever
/// be served from it. `PARROT_LONG_TESTS=1` raises the kill count and runs the soak.
final class CrashSafetyTests: XCTestCase {
    /// One cached question. Plain and streamed prompts never share text, so each key is only
    /// ever stored in one mode and every hit must be the upstream's bytes, not a conversion.
    struct Prompt: Hashable, Sendable {
        let text: String
        let stream: Bool
    }

    struct Observation: Sendable {
        let prompt: Prompt
        let status: Int?
        let cache: String?
        /// nil: the answer did not arrive whole (refused, cut, reset).
        let body: [UInt8]?
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    static let model = "gpt-4o-mini"

    static func requestBody(_ prompt: Prompt) -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(prompt.text)"}]\#(prompt.stream ? #","stream":true"# : "")}"#
    }

    /// What shapes the mock's answer (kept for the direct reference request), plus delays so a
    /// kill often lands while a stream is being relayed or an answer is being stored.
    static func mockHeaders(_ prompt: Prompt, slow: Bool) -> [(String, String)] {
        var headers = [("x-mock-chunks", "8"), ("x-mock-size", "3000")]
        if slow { headers.append(prompt.stream ? ("x-mock-chunk-delay-ms", "15") : ("x-mock-delay-ms", "30")) }
        return headers
    }

    static func send(_ prompt: Prompt, to baseURL: String, client: HTTPClient, slow: Bool = true, extraHeaders: [(String, String)] = []) async -> Observation {
        var request = HTTPClientRequest(url: baseURL + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in mockHeaders(prompt, slow: slow) + extraHeaders { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: requestBody(prompt)))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(20))
        } catch {
            return Observation(prompt: prompt, status: nil, cache: nil, body: nil)
        }
        let status = Int(response.status.code)
        let cache = response.headers.first(name: "x-parrot-cache")
        do {
            let body = try await response.body.collect(upTo: 8 << 20)
            return Observation(prompt: prompt, status: status, cache: cache, body: Array(body.readableBytesView))
        } catch {
            return Observation(prompt: prompt, status: status, cache: cache, body: nil)
        }
    }

    /// The upstream's own answer ids and timestamps are the only bytes that differ between two
    /// answers to one prompt.
    static func normalized(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
            .replacingOccurrences(of: #""id":"chatcmpl-[0-9]+""#, with: #""id":"ID""#, options: .regularExpression)
            .replacingOccurrences(of: #""created":[0-9]+"#, with: #""created":0"#, options: .regularExpression)
    }

    /// A whole answer: JSON that parses to a completion, or a stream that ends with `[DONE]`
    /// and whose every event is JSON.
    static func isWhole(_ bytes: [UInt8], stream: Bool) -> Bool {
        if !stream {
            guard let json = try? JSONParser.parse(bytes) else { return false }
            return json["choices"]?.arrayValue != nil
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("data: [DONE]\n\n") else { return false }
        for event in text.components(separatedBy: "\n\n") where event.hasPrefix("data: ") && event != "data: [DONE]" {
            guard (try? JSONParser.parse(Array(event.dropFirst(6).utf8))) != nil else { return false }
        }
        return true
    }

    /// `cache.bytes` from the process's `/stats` (0 when it cannot be read).
    static func storeBytes(of parrot: ParrotProcess, client: HTTPClient) async -> Int {
        guard let response = try? await client.execute(HTTPClientRequest(url: parrot.baseURL + "/stats"), timeout: .seconds(10)),
              let body = try? await response.body.collect(upTo: 1 << 20),
              let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
              let cache = json["cache"] as? [String: Any] else { return 0 }
        return cache["bytes"] as? Int ?? 0
    }

    static func crashClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(1), read: .seconds(15)))
        configuration.connectionPool = .init(idleTimeout: .seconds(5), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Reads every stored entry of a stopped (or killed) Parrot's SQLite file: the file must pass
    /// `PRAGMA integrity_check` and hold only whole answers. Returns the entries' normalized bodies.
    static func checkStore(at path: String, file: StaticString = #filePath, line: UInt = #line) async throws -> [String] {
        let store = try SQLiteStore(path: path)
        var bodies: [String] = []
        do {
            let integrity = try await store.integrityCheck()
            XCTAssertEqual(integrity, "ok", "PRAGMA integrity_check", file: file, line: line)
            var after: CacheKey?
            while true {
                let page = try await store.entries(after: after, limit: 200)
                guard let last = page.last else { break }
                for entry in page {
                    let identity = Array(try CachedAnswer(entry: entry).identityBody.readableBytesView)
                    XCTAssertEqual(identity.count, entry.rawBytes, "stored length", file: file, line: line)
                    XCTAssertEqual(entry.status, 200, file: file, line: line)
                    XCTAssertTrue(isWhole(identity, stream: entry.mode == .sse),
                                  "stored \(entry.mode) entry is not a whole answer: \(String(decoding: identity.suffix(200), as: UTF8.self))",
                                  file: file, line: line)
                    bodies.append(normalized(identity))
                }
                after = last.key
            }
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
        return bodies
    }

    /// Runs one worker per seed, each repeating `step` (worker, step number, a seed drawn from
    /// the worker's generator) until `stop` is set; returns each worker's results.
    static func runWorkers<T: Sendable>(
        seeds: [UInt64], until stop: Flag,
        _ step: @escaping @Sendable (_ worker: Int, _ step: Int, _ seed: UInt64) async -> T
    ) async -> [[T]] {
        await withTaskGroup(of: [T].self) { group in
            for (worker, seed) in seeds.enumerated() {
                group.addTask {
                    var generator = SeededGenerator(seed: seed)
                    var results: [T] = []
                    while !stop.isSet {
                        results.append(await step(worker, results.count, generator.next()))
                    }
                    return results
                }
            }
            var all: [[T]] = []
            for await part in group { all.append(part) }
            return all
        }
    }

    // MARK: kill -9

    func testKillNineUnderLoadNeverCorruptsTheStoreOrServesAPartialAnswer() async throws {
        let kills = longTestsEnabled ? 100 : 20
        let workers = 6
        let seed = SeededGenerator.seed(default: 0xC0FFEE)
        var random = SeededGenerator(seed: seed)
        let mock = try await MockUpstream.start(options: MockOptions(recordsRequests: false))
        let directory = try makeTemporaryDirectory("parrot-crash")
        let environment = ParrotProcess.environment(mock: mock.baseURL, directory: directory)
        let client = Self.crashClient()
        var current: ParrotProcess?
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let pool = (0..<12).flatMap { i in [Prompt(text: "crash plain \(i)", stream: false), Prompt(text: "crash stream \(i)", stream: true)] }
        var observations: [Observation] = []
        var killedDuringStartUp = 0
        do {
            for cycle in 0..<kills {
                // Every fifth kill lands during start-up (store open, migrations), the rest under load.
                if cycle % 5 == 4 {
                    let parrot = try ParrotProcess.launch(directory: directory, environment: environment)
                    current = parrot
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...120, using: &random)))
                    parrot.kill()
                    killedDuringStartUp += 1
                    let exited = await parrot.waitForExit(timeout: 10)
                    XCTAssertTrue(exited)
                    _ = try await Self.checkStore(at: directory + "/cache.sqlite")
                    continue
                }
                let parrot = try await ParrotProcess.start(directory: directory, environment: environment)
                current = parrot
                let stop = Flag()
                let seeds = (0..<workers).map { _ in random.next() }
                let baseURL = parrot.baseURL
                let step: @Sendable (Int, Int, UInt64) async -> Observation = { worker, n, seed in
                    var generator = SeededGenerator(seed: seed)
                    let prompt: Prompt
                    if Int.random(in: 0..<10, using: &generator) < 6 {
                        prompt = pool.randomElement(using: &generator)!
                    } else {
                        prompt = Prompt(text: "fresh \(cycle) \(worker) \(n)", stream: Bool.random(using: &generator))
                    }
                    return await Self.send(prompt, to: baseURL, client: client)
                }
                async let load = Self.runWorkers(seeds: seeds, until: stop, step)
                try await Task.sleep(for: .milliseconds(Int.random(in: 40...400, using: &random)))
                stop.set()
                parrot.kill()
                observations += await load.flatMap { $0 }
                let exited = await parrot.waitForExit(timeout: 10)
                XCTAssertTrue(exited, "parrot survived kill -9?")
                _ = try await Self.checkStore(at: directory + "/cache.sqlite")
            }

            // One last start: every prompt asked once more must come back whole.
            let parrot = try await ParrotProcess.start(directory: directory, environment: environment)
            current = parrot
            let asked = Array(Set(observations.map(\.prompt))).sorted { $0.text < $1.text }
            var index = 0
            while index < asked.count {
                let batch = asked[index..<min(index + 16, asked.count)]
                await withTaskGroup(of: Observation.self) { group in
                    for prompt in batch { group.addTask { await Self.send(prompt, to: parrot.baseURL, client: client, slow: false) } }
                    for await observation in group {
                        XCTAssertNotNil(observation.body, "after the last restart \(observation.prompt) did not come back whole")
                        observations.append(observation)
                    }
                }
                index += batch.count
            }
            await parrot.stop()
            current = nil
            let stored = try await Self.checkStore(at: directory + "/cache.sqlite")

            // The mock's answer to each prompt, fetched directly: the reference every answer is held to.
            var reference: [Prompt: String] = [:]
            for prompt in asked {
                let direct = await Self.send(prompt, to: mock.baseURL.replacingOccurrences(of: "/v1", with: ""), client: client, slow: false)
                let body = try XCTUnwrap(direct.body, "the mock answered \(prompt)")
                reference[prompt] = Self.normalized(body)
            }
            let references = Set(reference.values)

            var completeMisses: [Prompt: Set<[UInt8]>] = [:]
            var interrupted: Set<Prompt> = []
            for observation in observations {
                if let body = observation.body, observation.cache == "MISS" {
                    completeMisses[observation.prompt, default: []].insert(body)
                } else if observation.body == nil {
                    interrupted.insert(observation.prompt)
                }
            }
            var hits = 0, exactHits = 0, misses = 0, cut = 0
            for observation in observations {
                guard let body = observation.body else {
                    cut += 1
                    continue
                }
                XCTAssertEqual(observation.status, 200, "a whole answer with an error status: \(String(decoding: body, as: UTF8.self))")
                XCTAssertTrue(Self.isWhole(body, stream: observation.prompt.stream),
                              "\(observation.cache ?? "-") for \(observation.prompt) is not whole: \(String(decoding: body.suffix(200), as: UTF8.self))")
                XCTAssertEqual(Self.normalized(body), reference[observation.prompt],
                               "\(observation.cache ?? "-") for \(observation.prompt) differs from the upstream's answer")
                switch observation.cache {
                case "HIT":
                    hits += 1
                    if completeMisses[observation.prompt]?.contains(body) ?? false {
                        exactHits += 1
                    } else {
                        // Stored from an upstream answer whose own client was cut by a kill.
                        XCTAssertTrue(interrupted.contains(observation.prompt),
                                      "a HIT for \(observation.prompt) matches no answer the upstream was seen to send")
                    }
                case "MISS": misses += 1
                default: XCTFail("unexpected X-Parrot-Cache \(observation.cache ?? "none")")
                }
            }
            for body in stored {
                XCTAssertTrue(references.contains(body), "a stored entry differs from every upstream answer: \(body.prefix(300))")
            }
            XCTAssertGreaterThan(hits, 0, "restarts must have served stored answers")
            XCTAssertGreaterThan(cut, 0, "kills must have cut requests in flight")
            print("crash: \(kills) kill -9 (\(killedDuringStartUp) during start-up), seed \(seed): \(observations.count) requests, "
                  + "\(misses) MISS + \(hits) HIT whole (\(exactHits) HIT byte-identical to a MISS the client saw), \(cut) cut by a kill; "
                  + "\(stored.count) entries stored, integrity ok after every kill")
        } catch {
            if let current { print("parrot log tail:\n\(current.logTail())") }
            current?.kill()
            try? await client.shutdown()
            await mock.stop()
            throw error
        }
        current?.kill()
        try await client.shutdown()
        await mock.stop()
    }

    // MARK: soak (long variant)

    /// Mixed load for `PARROT_SOAK_SECONDS` (default 1800): hits, misses, streams, faults and
    /// refused requests. Resident memory and open descriptors of the process stay within ±10 %
    /// of their level after warm-up. Warm-up lasts until the store first reaches 90 % of
    /// `cache.max_bytes`: until then the database file, and SQLite's page caches (2 MiB per
    /// connection) with it, are still growing towards their bound, which is not a leak.
    /// `PARROT_TEST_BINARY` runs another build of `parrot` (e.g. a release build).
    func testSoakKeepsMemoryAndDescriptorsFlat() async throws {
        try XCTSkipUnless(longTestsEnabled, "soak runs with PARROT_LONG_TESTS=1")
        let seconds = ProcessInfo.processInfo.environment["PARROT_SOAK_SECONDS"].flatMap(Double.init) ?? 1800
        let mock = try await MockUpstream.start(options: MockOptions(recordsRequests: false))
        let directory = try makeTemporaryDirectory("parrot-soak")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let environment = ParrotProcess.environment(mock: mock.baseURL, directory: directory, extra: [
            "PARROT_CACHE_MEMORY_BYTES": "4194304",
            "PARROT_CACHE_MAX_BYTES": "16777216",
            "PARROT_PROVIDERS_OPENAI_MAX_RETRIES": "0",
            "PARROT_PROVIDERS_OPENAI_TIMEOUT_MS": "2000",
        ])
        let parrot = try await ParrotProcess.start(directory: directory, environment: environment)
        let idleDescriptors = try XCTUnwrap(parrot.openFileDescriptors)
        let client = Self.crashClient()
        let stop = Flag()
        let pool = (0..<200).map { Prompt(text: "soak \($0)", stream: $0 % 3 == 0) }
        let baseURL = parrot.baseURL
        let step: @Sendable (Int, Int, UInt64) async -> Bool = { worker, n, seed in
            var generator = SeededGenerator(seed: seed)
            let roll = Int.random(in: 0..<100, using: &generator)
            let fault: [(String, String)]
            switch roll {
            case 0..<3: fault = [("x-mock-status", "500")]
            case 3..<5: fault = [("x-mock-cut-after", "2")]
            case 5..<7: fault = [("x-mock-reset", "1")]
            case 7..<9: fault = [("cache-control", "no-store")]
            default: fault = []
            }
            let prompt = roll < 80 ? pool.randomElement(using: &generator)! : Prompt(text: "soak fresh \(worker) \(n)", stream: roll % 2 == 0)
            return await Self.send(prompt, to: baseURL, client: client, slow: false, extraHeaders: fault).body != nil
        }
        async let load = Self.runWorkers(seeds: (1...6).map { UInt64($0) }, until: stop, step)
        var samples: [(t: Double, rss: Int, fds: Int, storeBytes: Int)] = []
        let started = ContinuousClock.now
        let interval = max(1.0, seconds / 60)
        let maxBytes = 16_777_216
        while true {
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            let storeBytes = await Self.storeBytes(of: parrot, client: client)
            if let rss = parrot.residentBytes, let fds = parrot.openFileDescriptors { samples.append((elapsed, rss, fds, storeBytes)) }
            if elapsed >= seconds { break }
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            XCTAssertTrue(parrot.isRunning, "parrot died during the soak:\n\(parrot.logTail())")
        }
        stop.set()
        let requests = await load.reduce(0) { $0 + $1.count }
        print("soak series (s: RSS MiB / open fds / store MiB): " + samples.map {
            "\(Int($0.t)): \($0.rss >> 20)/\($0.fds)/\(String(format: "%.1f", Double($0.storeBytes) / 1048576))"
        }.joined(separator: ", "))
        let warmedAt = try XCTUnwrap(samples.firstIndex { $0.storeBytes >= maxBytes * 9 / 10 }, "the store never filled: no steady state to measure")
        XCTAssertLessThanOrEqual(samples[warmedAt].t, seconds / 2, "the store took more than half the soak to fill")
        let warm = Array(samples[warmedAt...])
        let baseline = warm[0]
        let underLoad = parrot.fileDescriptorKinds
        // Connections of the load (the clients', and the upstream pool's for its 60 s idle
        // timeout) are let go; what stays (store readers, event loops) is no more than under load.
        try await client.shutdown()
        let settled = try await eventually(75) { (parrot.openFileDescriptors ?? .max) < baseline.fds }
        let afterLoad = parrot.fileDescriptorKinds
        await parrot.stop()
        await mock.stop()

        let rssRange = (warm.map(\.rss).min()!, warm.map(\.rss).max()!)
        let fdRange = (warm.map(\.fds).min()!, warm.map(\.fds).max()!)
        print("soak: \(Int(seconds)) s, \(requests) requests; warm-up (store at 90 % of max_bytes) \(Int(baseline.t)) s; RSS after warm-up \(baseline.rss >> 20) MiB, range \(rssRange.0 >> 20)–\(rssRange.1 >> 20) MiB; "
              + "open fds \(baseline.fds), range \(fdRange.0)–\(fdRange.1) (\(idleDescriptors) before the load; under load \(underLoad.sorted { $0.key < $1.key }); "
              + "after it \(afterLoad.sorted { $0.key < $1.key }))")
        XCTAssertLessThanOrEqual(Double(rssRange.1), Double(baseline.rss) * 1.1, "RSS grew more than 10 %")
        XCTAssertGreaterThanOrEqual(Double(rssRange.0), Double(baseline.rss) * 0.9, "RSS fell more than 10 %")
        XCTAssertLessThanOrEqual(Double(fdRange.1), Double(baseline.fds) * 1.1 + 2, "open descriptors grew")
        XCTAssertTrue(settled, "the load's connections were released after it")
    }
}
