import Foundation
import ParrotCore
import ParrotMock
import XCTest

final class SemanticGuardTests: XCTestCase {
    func testHardNearMissesAreRefused() {
        let pairs = [
            ("Translate this from English to French: good morning", "Translate this from French to English: good morning"),
            ("How much does shipping 20 kg cost?", "How much does shipping 40 kg cost?"),
            ("Why did the launch go well?", "Why didn't the launch go well?"),
            ("Write a function to sort a list in Python", "Write a function to sort a list in Rust"),
            ("Who won the World Cup in 2023?", "Who won the World Cup in 2024?"),
            ("Sort the numbers in ascending order", "Sort the numbers in descending order"),
            ("Give the answer as JSON", "Give the answer as YAML"),
            ("What is the weather in Paris today?", "What is the weather in London today?"),
            ("Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?"),
            ("Convert 100 Fahrenheit to Celsius", "Convert 100 Celsius to Fahrenheit"),
        ]
        for (a, b) in pairs {
            XCTAssertFalse(SemanticGuard.compatible(a, b), "\(a) / \(b)")
        }
    }

    func testParaphrasesPass() {
        let pairs = [
            ("What is the capital of France?", "what's the capital city of France"),
            ("Explain how a hash map works", "Can you explain how hash maps work?"),
            ("Give me three tips for better sleep", "give me 3 tips to sleep better"),
            ("Summarize the plot of Hamlet", "Please summarise the plot of Hamlet."),
        ]
        let passing = pairs.filter { SemanticGuard.compatible($0.0, $0.1) }
        // "three" vs "3" is a known limit of the guard (refused: a miss, never a wrong answer).
        XCTAssertGreaterThanOrEqual(passing.count, 3, "\(pairs.filter { !SemanticGuard.compatible($0.0, $0.1) })")
    }
}

final class VectorIndexTests: XCTestCase {
    func testThresholdScopeAndRemoval() {
        let index = VectorIndex()
        let a = CacheKey(digest: Array(repeating: 1, count: 32))
        index.insert(key: a, scope: "s", vector: [1, 0, 0, 0], text: "a")
        XCTAssertNotNil(index.search(scope: "s", vector: [0.8, 0.6, 0, 0], threshold: 0.8))
        XCTAssertNil(index.search(scope: "s", vector: [0.79, (1 - 0.79 * 0.79).squareRoot(), 0, 0], threshold: 0.8))
        XCTAssertNil(index.search(scope: "other", vector: [1, 0, 0, 0], threshold: 0.8))
        XCTAssertNil(index.search(scope: "s", vector: [1, 0, 0, 0], threshold: 0.8) { _ in false }, "the guard can refuse")
        index.remove(a)
        XCTAssertNil(index.search(scope: "s", vector: [1, 0, 0, 0], threshold: 0.8))
        XCTAssertEqual(index.count, 0)
    }

    func testBestMatchWinsAmongManyRandomVectors() {
        let index = VectorIndex()
        var rng = SystemRandomNumberGenerator()
        func random() -> [Float] { (0..<64).map { _ in Float.random(in: -1...1, using: &rng) } }
        var target = random()
        for i in 0..<2000 {
            index.insert(key: CacheKey(digest: (0..<32).map { UInt8(truncatingIfNeeded: $0 &+ i &* 7) } + []), scope: "s", vector: random(), text: "\(i)")
        }
        let key = CacheKey(digest: Array(repeating: 9, count: 32))
        index.insert(key: key, scope: "s", vector: target, text: "target")
        target[0] += 0.05
        let match = index.search(scope: "s", vector: target, threshold: 0.8)
        XCTAssertEqual(match?.key, key)
        XCTAssertGreaterThan(match?.similarity ?? 0, 0.99)
    }
}

final class SemanticTierTests: XCTestCase {
    /// Unit vectors in 8 dimensions with an exact cosine to `base`.
    static let base: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
    static func at(_ cosine: Float, axis: Int = 1) -> [Float] {
        var v: [Float] = [cosine, 0, 0, 0, 0, 0, 0, 0]
        v[axis] = (1 - cosine * cosine).squareRoot()
        return v
    }

    func semanticProxy(mock: MockUpstream? = nil, directory: String? = nil, configure: (inout ProxyConfig) -> Void = { _ in }) async throws -> TestProxy {
        try await TestProxy.start(mock: mock, directory: directory) { config in
            config.semantic.enabled = true
            config.semantic.model = "text-embedding-3-small"
            configure(&config)
        }
    }

    func testThresholdEdgesDecideHits() async throws {
        let mock = try await MockUpstream.start()
        mock.setEmbedding(Self.base, for: "user: tell me about parrots")
        mock.setEmbedding(Self.at(0.79, axis: 2), for: "user: tell me something about parrots")
        mock.setEmbedding(Self.at(0.80), for: "user: tell me about the parrots")
        let proxy = try await semanticProxy(mock: mock)
        let first = try await proxy.chat("tell me about parrots")
        XCTAssertEqual(first.cache, "MISS")
        let below = try await proxy.chat("tell me something about parrots")
        XCTAssertEqual(below.cache, "MISS", "0.79 < 0.80")
        let at = try await proxy.chat("tell me about the parrots")
        XCTAssertEqual(at.cache, "SEMANTIC", "0.80 is enough")
        XCTAssertEqual(at.header("x-parrot-similarity"), "0.800")
        XCTAssertEqual(at.body, first.body)
        let off = try await proxy.chat("tell me about the parrots", headers: [("x-parrot-semantic", "off")])
        XCTAssertEqual(off.cache, "MISS")
        let stats = try await proxy.stats()
        XCTAssertEqual(stats["cache"]?["semantic_hits"]?.intValue, 1)
        XCTAssertEqual(stats["semantic"]?["embedding_calls"]?.intValue, 3, "X-Parrot-Semantic: off skips the embedding")
        XCTAssertGreaterThanOrEqual(stats["semantic"]?["index_entries"]?.intValue ?? 0, 1)
        await proxy.stop()
    }

    func testScopeSeparatesModelsTemperaturesAndNamespaces() async throws {
        let mock = try await MockUpstream.start()
        mock.setEmbedding(Self.base, for: "user: tell me about parrots")
        mock.setEmbedding(Self.at(0.95), for: "user: tell me about the parrots")
        let proxy = try await semanticProxy(mock: mock)
        _ = try await proxy.chat("tell me about parrots", extra: #","temperature":0"#)
        let otherModel = try await proxy.chat("tell me about the parrots", model: "gpt-4o", extra: #","temperature":0"#)
        XCTAssertEqual(otherModel.cache, "MISS")
        let otherTemperature = try await proxy.chat("tell me about the parrots", extra: #","temperature":1"#)
        XCTAssertEqual(otherTemperature.cache, "MISS")
        let otherKey = try await proxy.chat("tell me about the parrots", extra: #","temperature":0"#, headers: [("authorization", "Bearer sk-other")])
        XCTAssertEqual(otherKey.cache, "MISS")
        let same = try await proxy.chat("tell me about the parrots", extra: #","temperature":0"#)
        XCTAssertEqual(same.cache, "SEMANTIC")
        await proxy.stop()
    }

    func testNearMissGuardRefusesDifferentNumbersEvenWithIdenticalVectors() async throws {
        let mock = try await MockUpstream.start()
        mock.setEmbedding(Self.base, for: "user: how much is shipping for 20 kg")
        mock.setEmbedding(Self.base, for: "user: how much is shipping for 40 kg")
        let proxy = try await semanticProxy(mock: mock)
        _ = try await proxy.chat("how much is shipping for 20 kg")
        let other = try await proxy.chat("how much is shipping for 40 kg")
        XCTAssertEqual(other.cache, "MISS")
        XCTAssertTrue(other.body.contains("40 kg"))
        await proxy.stop()
    }

    func testIndexSurvivesRestartAndClearRemovesIt() async throws {
        let mock = try await MockUpstream.start()
        mock.setEmbedding(Self.base, for: "user: tell me about parrots")
        mock.setEmbedding(Self.at(0.9), for: "user: tell me about the parrots")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-sem-\(UUID().uuidString)").path
        let first = try await semanticProxy(mock: mock, directory: dir)
        _ = try await first.chat("tell me about parrots")
        await first.stop(keepMock: true)
        let second = try await semanticProxy(mock: mock, directory: dir)
        let hit = try await second.chat("tell me about the parrots")
        XCTAssertEqual(hit.cache, "SEMANTIC", "the index was rebuilt from the store")
        _ = try await second.send(.DELETE, "/cache")
        let after = try await second.chat("tell me about the parrots", headers: [("cache-control", "no-store")])
        XCTAssertEqual(after.cache, "BYPASS")
        let miss = try await second.chat("tell me about the parrots", headers: [("x-mock-delay-ms", "1")])
        XCTAssertEqual(miss.cache, "MISS", "cleared entries are gone from the index too")
        await second.stop()
    }

    func testEmbedderFailureIsAPlainMiss() async throws {
        let proxy = try await semanticProxy { config in
            var broken = ProviderConfig()
            broken.baseURL = "http://127.0.0.1:9/v1"
            broken.apiKeyEnv = ""
            broken.models = ["embedding-only"]
            config.providers["embedder"] = broken
            config.semantic.embeddingProvider = "embedder"
        }
        let first = try await proxy.chat("anything at all")
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.cache, "MISS")
        let second = try await proxy.chat("anything at all")
        XCTAssertEqual(second.cache, "HIT", "the exact tier still works")
        let stats = try await proxy.stats()
        XCTAssertGreaterThanOrEqual(stats["semantic"]?["embedding_errors"]?.intValue ?? 0, 1)
        await proxy.stop()
    }
}
