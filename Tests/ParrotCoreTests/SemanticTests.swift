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
        // All four pass today ("three" reads as 3; "summarise" is "summarize" for the one-slot
        // rule); a refusal would be a miss, never a wrong answer.
        XCTAssertGreaterThanOrEqual(passing.count, 3, "\(pairs.filter { !SemanticGuard.compatible($0.0, $0.1) })")
    }

    /// As Parrot compares them: SemanticText's "user: <prompt>", in both orders (the guard is symmetric).
    private func assertRefused(_ pairs: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (a, b) in pairs {
            XCTAssertFalse(SemanticGuard.compatible("user: \(a)", "user: \(b)"), "must refuse: \(a) / \(b)", file: file, line: line)
            XCTAssertFalse(SemanticGuard.compatible("user: \(b)", "user: \(a)"), "must refuse: \(b) / \(a)", file: file, line: line)
        }
    }

    private func assertPass(_ pairs: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (a, b) in pairs {
            XCTAssertTrue(SemanticGuard.compatible("user: \(a)", "user: \(b)"), "must pass: \(a) / \(b)", file: file, line: line)
            XCTAssertTrue(SemanticGuard.compatible("user: \(b)", "user: \(a)"), "must pass: \(b) / \(a)", file: file, line: line)
        }
    }

    /// Rule 1: a name must occur in the other text, in any case; "I" is not a name; names keep
    /// their order when the rest is only rearranged.
    func testNames() {
        assertRefused([
            ("How do I install PostgreSQL on Ubuntu?", "How do I install PostgreSQL on Fedora?"),
            ("Schedule a meeting for Monday at 10am.", "Schedule a meeting for Tuesday at 10am."),
            ("What time is it in Tokyo when it's noon in London?", "What time is it in London when it's noon in Tokyo?"),
        ])
        assertPass([
            ("What is the capital of canada", "What's the capital of Canada?"),
            ("how do i reverse a string in javascript", "How do I reverse a string in JavaScript?"),
            ("How do I read a file line by line in Python?", "Python: read a text file one line at a time"),
            ("What is the population of Australia?", "Australia's population"),
            ("How do I undo the last commit in git?", "How can I undo my last git commit?"),
            ("How far is the Moon from the Earth?", "What is the distance between the Earth and the Moon?"),
            ("List the G7 countries as JSON.", "Which countries are in the G7? Answer as JSON."),
        ])
    }

    /// Rule 2: opposite words, and arguments swapped around to / from / when / than.
    func testDirections() {
        assertRefused([
            ("How do I convert a string to a datetime in Python?", "How do I convert a datetime to a string in Python?"),
            ("How do I copy files from my local machine to a remote server with scp?",
             "How do I copy files from a remote server to my local machine with scp?"),
            ("What happens to bond prices when interest rates rise?", "What happens to interest rates when bond prices rise?"),
            ("Rotate the image 90 degrees clockwise with ImageMagick.", "Rotate the image 90 degrees counterclockwise with ImageMagick."),
            ("Events in Paris this weekend", "Events in Paris next weekend"),
            ("Weather forecast for tomorrow in Berlin", "Weather forecast for today in Berlin"),
            ("How do I enable dark mode in Chrome?", "How do I disable dark mode in Chrome?"),
            ("Explain quantum computing in simple terms.", "Explain quantum computing in technical detail."),
        ])
        assertPass([
            ("How do I make my website load faster?", "Tips to speed up a slow website"),
            ("How to center a div in CSS", "What's the best way to center a div with CSS?"),
            ("How do I convert a string to an integer in Java?", "Java: parse a String into an int"),
            ("What's the difference between TCP and UDP?", "TCP vs UDP: what's the difference?"),
        ])
    }

    /// Rule 3: negation by "not", by a verb ("lack", "avoid") or by a prefix ("un-", "il-").
    func testNegation() {
        assertRefused([
            ("Is it safe to drink tap water in Mexico?", "Is it unsafe to drink tap water in Mexico?"),
            ("Git command to show files that are tracked", "Git command to show files that are untracked"),
            ("Is it legal to drive with headphones in California?", "Is it illegal to drive with headphones in California?"),
            ("Which programming languages have garbage collection?", "Which programming languages lack garbage collection?"),
            ("Should I take ibuprofen with food?", "Should I avoid taking ibuprofen with food?"),
            ("Which foods are safe for dogs to eat?", "Which foods are not safe for dogs to eat?"),
        ])
        assertPass([
            ("Why doesn't my code compile?", "My code does not compile, why?"),
        ])
    }

    /// Rule 4: numbers with their units, written out or in digits.
    func testNumbers() {
        assertRefused([
            ("How long does it take to walk 5 km?", "How long does it take to walk 5 miles?"),
            ("How many grams of protein should I eat per day if I weigh seventy kilos?",
             "How many grams of protein should I eat per day if I weigh ninety kilos?"),
            ("Plan a 3-day trip to Rome.", "Plan a 7-day trip to Rome."),
            ("What's the monthly payment on a $300,000 mortgage at 6% over 30 years?",
             "What's the monthly payment on a $300,000 mortgage at 4% over 30 years?"),
            ("How long should I bake a sponge cake at 180°C?", "How long should I bake a sponge cake at 160°C?"),
        ])
        assertPass([
            ("What is 15% of 200?", "Calculate 15 percent of 200"),
            ("How long should I bake a cake at 180°C?", "Cake baking time at 180 °C"),
            ("How much is $1,000 in euros?", "How much is $1000 in euros?"),
            ("Convert 20 kg to pounds.", "How many pounds is 20 kg?"),
            ("How do I merge two dictionaries in Python?", "Combine two Python dicts into one"),
        ])
    }

    /// Rule 5: languages and formats; "list", "table", "go" count only where they name one.
    func testLanguagesAndFormats() {
        assertRefused([
            ("Write a for loop in bash that iterates over files.", "Write a for loop in PowerShell that iterates over files."),
            ("how to parse command line arguments in python", "how to parse command line arguments in ruby"),
            ("Summarize this article as a bulleted list.", "Summarize this article as a table."),
            ("Write a poem about the ocean.", "Write a haiku about the ocean."),
            ("Implement quicksort in C++.", "Implement quicksort in C#."),
        ])
        assertPass([
            ("How do I reverse a list in Python?", "What's the way to reverse a Python list?"),
            ("Explain what a hash table is.", "How does a hash table work?"),
            ("List the planets in order from the sun", "What are the planets, in order from the sun?"),
            ("How do I go back to the previous commit in git?", "git: go back to the previous commit"),
            ("What does the Go keyword defer do?", "Explain defer in Go"),
        ])
    }

    /// Rule 6: the same template with one slot changed is a different question.
    func testOneSlotChanged() {
        assertRefused([
            ("Is it safe for cats to eat chocolate?", "Is it safe for dogs to eat chocolate?"),
            ("What are the symptoms of a heart attack in women?", "What are the symptoms of a heart attack in men?"),
            ("Convert 3 cups of flour to grams.", "Convert 3 cups of sugar to grams."),
            ("Give me a vegetarian lasagna recipe.", "Give me a vegan lasagna recipe."),
            ("What is the fastest land animal?", "What is the slowest land animal?"),
            ("How do I allow pop-ups in Safari?", "How do I block pop-ups in Safari?"),
        ])
        assertPass([
            ("Suggest a name for a coffee shop", "Recommend a name for a coffee shop"),
            ("Give me a short summary of the French Revolution", "Give me a brief summary of the French Revolution"),
            ("Summarize the plot of Hamlet", "Please summarise the plot of Hamlet."),
        ])
    }

    /// Long conversations are judged on the region where they differ; texts that differ over
    /// more than the limit are refused (a miss), and nothing takes quadratic time.
    func testLongTextsAreComparedWhereTheyDiffer() {
        let paragraph = "You are a careful assistant for an online bookshop. Answer in English, cite the order number, "
            + "and never promise a delivery date you cannot check in the system. Customers may write in any tone. "
        let system = "system: " + String(repeating: paragraph, count: 2_000)  // ~400 KB
        let started = ContinuousClock.now
        XCTAssertTrue(SemanticGuard.compatible(system + "\nuser: What is the capital of canada",
                                               system + "\nuser: What's the capital of Canada?"))
        XCTAssertFalse(SemanticGuard.compatible(system + "\nuser: How do I convert a string to a datetime in Python?",
                                                system + "\nuser: How do I convert a datetime to a string in Python?"))
        XCTAssertFalse(SemanticGuard.compatible(system + "\nuser: Ship 20 kg to Lyon", system + "\nuser: Ship 40 kg to Lyon"))
        // A difference at the very start and one at the very end: nothing to vouch for.
        XCTAssertFalse(SemanticGuard.compatible("a " + system + " b", "c " + system + " d"))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "linear work, even in a debug build")
        // Under (~6 KB) and over (~11 KB) the whole-text limit: the same decisions.
        for count in [1_200, 2_000] {
            let words = (0..<count).map { "w\($0)" }.joined(separator: " ")
            XCTAssertTrue(SemanticGuard.compatible(words + " for cats", words + " for cats."), "\(count) words")
            XCTAssertFalse(SemanticGuard.compatible(words + " for cats", words + " for dogs"), "\(count) words")
        }
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
        for i in 0..<1000 {
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

/// Larger scopes: vectors clustered like one application's prompts (the case that defeats the
/// signature shortlist) and compaction after heavy removal.
final class VectorIndexScaleTests: XCTestCase {
    /// Vectors around one shared direction: unrelated ones sit near cosine 0.7 to each other
    /// (in 384 dimensions, as MiniLM's; fewer would scatter them up to 0.8 and beyond).
    struct Topic {
        var rng: SeededGenerator
        let centre: [Float]
        init(seed: UInt64, dimension: Int = 384) {
            var r = SeededGenerator(seed: seed)
            centre = (0..<dimension).map { _ in Float.random(in: -1...1, using: &r) }
            rng = r
        }
        mutating func vector() -> [Float] {
            let noise = centre.map { _ in Float.random(in: -1...1, using: &rng) }
            let cn = centre.reduce(0) { $0 + $1 * $1 }.squareRoot(), nn = noise.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return zip(centre, noise).map { 1.53 * $0 / cn + $1 / nn }
        }
    }

    static func key(_ i: Int) -> CacheKey { CacheKey(digest: withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) } + Array(repeating: 7, count: 24)) }

    /// Inserts `count` vectors of `topic` into scope "s" (entry i has text "t<i>"); returns every
    /// 20th with its key.
    static func fill(_ index: VectorIndex, with topic: inout Topic, count: Int) -> [(CacheKey, [Float])] {
        var kept: [(CacheKey, [Float])] = []
        for i in 0..<count {
            let v = topic.vector()
            index.insert(key: key(i), scope: "s", vector: v, text: "t\(i)")
            if i % 20 == 0 { kept.append((key(i), v)) }
        }
        return kept
    }

    static func nudged(_ v: [Float], _ i: Int) -> [Float] {
        var v = v
        v[i % v.count] += 0.15  // cosine ≈ 0.99 to the original
        return v
    }

    func testNearDuplicatesAreFoundInAClusteredScope() {
        let index = VectorIndex()
        var topic = Topic(seed: 1)
        let kept = Self.fill(index, with: &topic, count: 600)
        for (i, (key, v)) in kept.enumerated() {
            XCTAssertEqual(index.search(scope: "s", vector: Self.nudged(v, i), threshold: 0.8)?.key, key, "near-duplicate of entry \(i * 20)")
        }
        for _ in 0..<25 {
            XCTAssertNil(index.search(scope: "s", vector: topic.vector(), threshold: 0.8), "a fresh vector of the same topic (cosine ≈ 0.7) is no hit")
        }
        // The periodic sync inserts recent entries again: no duplicates.
        for (key, v) in kept { index.insert(key: key, scope: "s", vector: v, text: "again") }
        XCTAssertEqual(index.count, 600)
        XCTAssertEqual(index.search(scope: "s", vector: kept[0].1, threshold: 0.8)?.text, "t0")
    }

    /// Once the scope has a centre (≥ 256 vectors), cosine exactly at the threshold still counts,
    /// whichever way the query leans: away from the stored vector at random, towards the scope's
    /// common direction, or away from it (the bound on residual cosine must hold for all).
    func testThresholdIsExactInACentredScope() {
        let index = VectorIndex()
        var topic = Topic(seed: 3)
        let kept = Self.fill(index, with: &topic, count: 400)
        func unit(_ v: [Float]) -> [Float] {
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        /// The part of `w` orthogonal to the unit vector `u`, normalised.
        func orthogonal(_ w: [Float], to u: [Float]) -> [Float] {
            let along = zip(w, u).reduce(0) { $0 + $1.0 * $1.1 }
            return unit(zip(w, u).map { $0 - along * $1 })
        }
        let centre = unit(topic.centre)
        for (n, (key, v)) in kept.enumerated() {
            let u = unit(v)
            let directions = [orthogonal(topic.vector(), to: u), orthogonal(centre, to: u), orthogonal(centre.map { -$0 }, to: u)]
            for (d, w) in directions.enumerated() {
                let atThreshold = zip(u, w).map { 0.8 * $0 + 0.6 * $1 }
                let match = index.search(scope: "s", vector: atThreshold, threshold: 0.8)
                XCTAssertNotNil(match, "entry \(n), direction \(d): cosine 0.80 must hit")
                if d == 0 {
                    XCTAssertEqual(match?.key, key)
                    let below = zip(u, w).map { 0.79 * $0 + (1 - 0.79 * 0.79).squareRoot() * $1 }
                    XCTAssertNil(index.search(scope: "s", vector: below, threshold: 0.8), "entry \(n): cosine 0.79 must miss")
                }
            }
        }
    }

    func testCompactionAfterHeavyRemovalKeepsLiveEntriesAndDropsRemovedOnes() {
        let index = VectorIndex()
        var topic = Topic(seed: 2, dimension: 16)  // each entry looks itself up exactly: few dimensions do
        let vectors = (0..<3000).map { _ in topic.vector() }
        for (i, v) in vectors.enumerated() { index.insert(key: Self.key(i), scope: "s", vector: v, text: "t\(i)") }
        for i in 0..<3000 where i % 5 != 0 { index.remove(Self.key(i)) }  // 2400 dead: compacted
        XCTAssertEqual(index.count, 600)
        for (i, v) in vectors.enumerated() where i % 3 == 0 {
            let match = index.search(scope: "s", vector: v, threshold: 0.8)
            if i % 5 == 0 {
                XCTAssertEqual(match?.key, Self.key(i), "live entry \(i)")
            } else {
                XCTAssertNotEqual(match?.key, Self.key(i), "removed entry \(i) served")
            }
        }
        index.insert(key: Self.key(1), scope: "s", vector: vectors[1], text: "back")
        XCTAssertEqual(index.search(scope: "s", vector: vectors[1], threshold: 0.8)?.text, "back")
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

    // MARK: embedding calls through the provider's guard

    /// A semantic proxy whose embeddings come from a provider of their own, `embedder`, on a mock
    /// of its own, so that provider's counters and that mock's count see embedding calls only;
    /// chat goes to `openai` on the proxy's mock. Both mocks and Parrot are stopped whether the
    /// test passes or fails.
    private func withEmbeddingProvider(
        _ configureProvider: (inout ProviderConfig) -> Void = { _ in },
        semantic configureSemantic: (inout SemanticConfig) -> Void = { _ in },
        _ body: (TestProxy, MockUpstream) async throws -> Void
    ) async throws {
        let embeddings = try await MockUpstream.start()
        do {
            try await withProxy(configure: { config in
                var provider = ProviderConfig()
                provider.baseURL = embeddings.baseURL
                provider.apiKeyEnv = ""
                provider.models = ["embedding-only"]
                configureProvider(&provider)
                config.providers["embedder"] = provider
                config.semantic.enabled = true
                config.semantic.model = "text-embedding-3-small"
                config.semantic.embeddingProvider = "embedder"
                configureSemantic(&config.semantic)
            }) { proxy in
                try await body(proxy, embeddings)
            }
        } catch {
            await embeddings.stop()
            throw error
        }
        await embeddings.stop()
    }

    private func assertPlainMiss(_ reply: TestProxy.Reply, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.status, 200, message, file: file, line: line)
        XCTAssertEqual(reply.cache, "MISS", message, file: file, line: line)
    }

    func testAnOpenBreakerKeepsTheSemanticTierFromCallingItsEmbeddingProvider() async throws {
        try await withEmbeddingProvider({ provider in
            provider.maxRetries = 0
            provider.breaker.failureThreshold = 2
        }) { proxy, embeddings in
            // The embedding provider's breaker opens on its own chat failures (no embedding
            // call is involved: the semantic tier is off for these).
            for i in 0..<2 {
                let failed = try await proxy.chat("failing request \(i)", model: "embedding-only",
                                                  headers: [("x-mock-status", "500"), ("x-parrot-semantic", "off")])
                XCTAssertEqual(failed.status, 500)
            }
            let state = try await proxy.stats()["providers"]?["embedder"]?["breaker"]?["state"]?.stringValue
            XCTAssertEqual(state, "open")
            embeddings.resetCounters()
            assertPlainMiss(try await proxy.chat("tell me about parrots"))
            XCTAssertEqual(embeddings.requestCount(path: "/v1/embeddings"), 0, "the open breaker is obeyed by embedding calls")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["semantic"]?["embedding_errors"]?.intValue, 1)
            XCTAssertEqual(stats["providers"]?["embedder"]?["requests"]?.intValue, 2, "only the two chat calls reached the provider")
        }
    }

    func testEmbeddingCallsCountAgainstTheirProvidersRequestsPerMinute() async throws {
        try await withEmbeddingProvider({ provider in
            provider.rpm = 2
            provider.maxQueueWaitMs = 0
        }) { proxy, embeddings in
            for prompt in ["tell me about parrots", "tell me about owls", "tell me about crows"] {
                assertPlainMiss(try await proxy.chat(prompt), prompt)
            }
            XCTAssertEqual(embeddings.requestCount(path: "/v1/embeddings"), 2, "the third embedding call is refused by the limiter")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["providers"]?["embedder"]?["rate_limited"]?.intValue, 1)
            XCTAssertEqual(stats["providers"]?["embedder"]?["limits"]?["remaining_requests"]?.intValue, 0)
            XCTAssertEqual(stats["semantic"]?["embedding_errors"]?.intValue, 1)
        }
    }

    /// A queue longer than `semantic.timeout_ms` is not waited in: the call is refused at once.
    func testAnEmbeddingCallIsNotQueuedPastItsTimeout() async throws {
        try await withEmbeddingProvider({ provider in
            provider.rpm = 1
            provider.maxQueueWaitMs = 120_000
        }) { proxy, embeddings in
            assertPlainMiss(try await proxy.chat("tell me about parrots"))
            assertPlainMiss(try await proxy.chat("tell me about owls"), "its turn would come in a minute")
            XCTAssertEqual(embeddings.requestCount(path: "/v1/embeddings"), 1)
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["providers"]?["embedder"]?["rate_limited"]?.intValue, 1)
            XCTAssertEqual(stats["providers"]?["embedder"]?["errors"]?.intValue, 0, "refused, not timed out")
        }
    }

    func testAFailingEmbeddingCallIsCountedInItsProvidersErrors() async throws {
        try await withEmbeddingProvider({ $0.maxRetries = 0 }) { proxy, embeddings in
            embeddings.setDefaultBehaviour(.status(500))
            assertPlainMiss(try await proxy.chat("tell me about parrots"))
            XCTAssertEqual(embeddings.requestCount(path: "/v1/embeddings"), 1)
            let stats = try await proxy.stats()
            let embedder = stats["providers"]?["embedder"]
            XCTAssertEqual(embedder?["requests"]?.intValue, 1)
            XCTAssertEqual(embedder?["errors"]?.intValue, 1)
            XCTAssertEqual(embedder?["breaker"]?["failures"]?.intValue, 1)
            XCTAssertEqual(stats["semantic"]?["embedding_errors"]?.intValue, 1)
        }
    }

    func testAFailedEmbeddingCallIsRetriedLikeOtherCacheableCalls() async throws {
        try await withEmbeddingProvider({ $0.maxRetries = 1 }) { proxy, embeddings in
            embeddings.enqueue(.status(503))
            assertPlainMiss(try await proxy.chat("tell me about parrots"))
            XCTAssertEqual(embeddings.requestCount(path: "/v1/embeddings"), 2, "one failure, one retry")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["semantic"]?["embedding_errors"]?.intValue, 0, "the retry answered")
            XCTAssertEqual(stats["providers"]?["embedder"]?["errors"]?.intValue, 1)
        }
    }

    /// `semantic.timeout_ms` bounds the wait for the head (a provider that never answers) and
    /// for the body (one that answers its head, then drips).
    func testASlowEmbeddingProviderIsAPlainMiss() async throws {
        try await withEmbeddingProvider(semantic: { $0.timeoutMs = 200 }) { proxy, embeddings in
            embeddings.enqueue(.stall)
            assertPlainMiss(try await proxy.chat("tell me about parrots"), "no head")
            embeddings.enqueue(.slowDrip(chunkDelayMs: 5_000))
            assertPlainMiss(try await proxy.chat("tell me about owls"), "a head, then a slow body")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["semantic"]?["embedding_errors"]?.intValue, 2)
        }
    }
}
