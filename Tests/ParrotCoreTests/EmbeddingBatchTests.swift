import Foundation
import NIOCore
@testable import ParrotCore
import XCTest

/// The pure part of the per-input embeddings cache, without sockets: reading inputs, keys,
/// apportioning usage, reading upstream answers and writing assembled ones, the in-flight table.
final class EmbeddingBatchTests: XCTestCase {
    private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }
    private func bytes(_ vector: [Float]) -> ByteBuffer { ByteBuffer(bytes: EmbeddingBatch.float32Bytes(vector)) }

    // MARK: inputs

    func testInputShapesAreReadAsTheAPIReadsThem() throws {
        XCTAssertEqual(EmbeddingBatch.inputs(of: try json(#"{"input":"x"}"#)), [.text("x")])
        XCTAssertEqual(EmbeddingBatch.inputs(of: try json(#"{"input":["a","b","a"]}"#)), [.text("a"), .text("b"), .text("a")])
        // A flat list of ids is one tokenized input; a list of lists is several.
        XCTAssertEqual(EmbeddingBatch.inputs(of: try json(#"{"input":[1,2,3]}"#)), [.tokens([1, 2, 3])])
        XCTAssertEqual(EmbeddingBatch.inputs(of: try json(#"{"input":[[1,2],[3]]}"#)), [.tokens([1, 2]), .tokens([3])])
        // Shapes Parrot does not split go the whole-request way (the provider judges them).
        for body in [#"{}"#, #"{"input":[]}"#, #"{"input":["a",1]}"#, #"{"input":[[1],"a"]}"#, #"{"input":[1.5]}"#,
                     #"{"input":[[]]}"#, #"{"input":7}"#, #"{"input":null}"#] {
            XCTAssertNil(EmbeddingBatch.inputs(of: try json(body)), body)
        }
    }

    // MARK: keys

    private func key(_ input: EmbeddingInput, body: String = #"{"model":"m"}"#, namespace: String = "ns", provider: String = "openai",
                     model: String = "m", variant: String = "") throws -> CacheKey {
        CacheKey(embeddingInput: input, provider: provider, model: model, namespace: namespace,
                 parameters: EmbeddingBatch.keyedParameters(of: try json(body)), variant: variant)
    }

    func testInputKeyIgnoresEncodingUserAndPositionButNotDimensionsOrScope() throws {
        let plain = try key(.text("a"))
        XCTAssertEqual(plain, try key(.text("a"), body: #"{"model":"m","encoding_format":"base64","user":"u","input":["z","a"]}"#))
        XCTAssertNotEqual(plain, try key(.text("a"), body: #"{"model":"m","dimensions":256}"#))
        XCTAssertNotEqual(try key(.text("a"), body: #"{"dimensions":256}"#), try key(.text("a"), body: #"{"dimensions":512}"#))
        XCTAssertNotEqual(plain, try key(.text("b")))
        XCTAssertNotEqual(plain, try key(.text("a"), namespace: "other"))
        XCTAssertNotEqual(plain, try key(.text("a"), provider: "azure"))
        XCTAssertNotEqual(plain, try key(.text("a"), model: "m2"))
        XCTAssertNotEqual(plain, try key(.text("a"), variant: "?api-version=1"))
        // Ids and a text that spells them are different inputs.
        XCTAssertNotEqual(try key(.tokens([1, 2])), try key(.text("[1,2]")))
        XCTAssertNotEqual(try key(.tokens([1, 2])), try key(.tokens([2, 1])))
        // Never the key of a whole-request answer for the same body.
        let body = try json(#"{"model":"m","input":"a"}"#)
        XCTAssertNotEqual(plain, CacheKey(endpoint: .embeddings, provider: "openai", model: "m", namespace: "ns", body: body, streamed: false))
    }

    func testDistinctKeepsFirstAppearanceOrder() throws {
        let (a, b, c) = (try key(.text("a")), try key(.text("b")), try key(.text("c")))
        XCTAssertEqual(EmbeddingBatch.distinct([c, a, c, b, a]), [c, a, b])
    }

    // MARK: usage

    func testApportionedPartsSumExactlyToTheTotal() {
        let cases: [(Int, [Int])] = [
            (10, [1, 1, 1]), (7, [3, 3, 3]), (1, [5, 5, 5, 5]), (0, [4, 2]), (100, [0, 0, 0]), (13, [1]),
            (1_000_003, [7, 11, 13, 17, 19, 23]), (5, [1_000_000_007, 3, 1]), (Int(Int32.max), [Int(Int32.max), 1, 2]),
            (2, [0, 5, 0]), (9, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]),
        ]
        for (total, weights) in cases {
            let parts = EmbeddingBatch.apportion(total, weights: weights)
            XCTAssertEqual(parts.count, weights.count)
            XCTAssertEqual(parts.reduce(0, +), total, "\(total) over \(weights): \(parts)")
            XCTAssertTrue(parts.allSatisfy { $0 >= 0 }, "\(parts)")
            let sum = weights.reduce(0, +)
            if sum > 0 {
                for (part, weight) in zip(parts, weights) {
                    let quota = Double(total) * Double(weight) / Double(sum)
                    XCTAssertLessThan(abs(Double(part) - quota), 1.0 + 1e-9, "\(total) over \(weights): \(parts)")
                }
            }
        }
        XCTAssertEqual(EmbeddingBatch.apportion(10, weights: [1, 1, 1]), [4, 3, 3], "ties go to earlier positions")
        XCTAssertEqual(EmbeddingBatch.apportion(7, weights: [1, 2, 4]), [1, 2, 4])
        XCTAssertEqual(EmbeddingBatch.apportion(4, weights: [0, 0, 0]), [2, 1, 1], "no weights: an even split")
        XCTAssertEqual(EmbeddingBatch.apportion(3, weights: []), [])
    }

    func testRandomApportionsAlwaysSumExactly() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let weights = (0..<Int.random(in: 1...40, using: &generator)).map { _ in Int.random(in: 0...5000, using: &generator) }
            let total = Int.random(in: 0...2_000_000, using: &generator)
            XCTAssertEqual(EmbeddingBatch.apportion(total, weights: weights).reduce(0, +), total)
        }
    }

    // MARK: splitting

    func testMissingInputsAreSplitAtTheLimit() {
        XCTAssertEqual(EmbeddingBatch.chunks(Array(1...5), limit: 2).map(Array.init), [[1, 2], [3, 4], [5]])
        XCTAssertEqual(EmbeddingBatch.chunks(Array(1...4), limit: 2).map(Array.init), [[1, 2], [3, 4]])
        XCTAssertEqual(EmbeddingBatch.chunks(Array(1...3), limit: 2048).map(Array.init), [[1, 2, 3]])
        XCTAssertEqual(EmbeddingBatch.chunks([Int](), limit: 2).count, 0)
        XCTAssertEqual(EmbeddingBatch.chunks(Array(0..<4097), limit: EmbeddingBatch.openAIMaxInputs).map(\.count), [2048, 2048, 1])
    }

    func testUpstreamBodyCarriesOnlyTheGivenInputsAndEverythingElseAsSent() throws {
        let body = try json(#"{"model":"m","input":["a","b","c"],"dimensions":4,"encoding_format":"base64","user":"u"}"#)
        let sent = try JSONParser.parse(Array(EmbeddingBatch.upstreamBody(body, inputs: [.text("b")]).readableBytesView))
        XCTAssertEqual(sent, try json(#"{"model":"m","input":["b"],"dimensions":4,"encoding_format":"base64","user":"u"}"#))
        let ids = try JSONParser.parse(Array(EmbeddingBatch.upstreamBody(body, inputs: [.tokens([1, 2])]).readableBytesView))
        XCTAssertEqual(ids["input"], try json("[[1,2]]"))
    }

    // MARK: answers

    func testUpstreamAnswersAreReadInFloatOrBase64ByIndex() throws {
        let v0: [Float] = [0.1, -0.25, 3e-8], v1: [Float] = [1, 0, -1]
        let b64 = Data(EmbeddingBatch.float32Bytes(v1)).base64EncodedString()
        // Out of order on purpose: `index` places each vector.
        let answer = #"{"object":"list","data":[{"index":1,"embedding":"\#(b64)"},{"index":0,"embedding":[0.1,-0.25,3e-8]}],"usage":{"prompt_tokens":9,"total_tokens":9}}"#
        let read = try XCTUnwrap(EmbeddingBatch.read(answer: Array(answer.utf8), count: 2))
        XCTAssertEqual(read.vectors, [v0, v1])
        XCTAssertEqual(read.promptTokens, 9)
        XCTAssertNil(EmbeddingBatch.read(answer: Array(answer.utf8), count: 3), "one vector per input sent, or nothing is stored")
        let bad: [(String, Int)] = [
            (#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#, 2), (#"{"data":[{"index":0,"embedding":"!!"}]}"#, 1),
            (#"{"error":{"message":"x"},"data":[{"index":0,"embedding":[1]}]}"#, 1), (#"{"data":[{"index":0,"embedding":["x"]}]}"#, 1),
            (#"{"data":[{"index":5,"embedding":[1]}]}"#, 1), ("not json", 1),
        ]
        for (answer, count) in bad {
            XCTAssertNil(EmbeddingBatch.read(answer: Array(answer.utf8), count: count), answer)
        }
    }

    func testAssembledAnswerCarriesEveryVectorInOrderInEitherEncoding() throws {
        let vectors: [[Float]] = [[0.1, -0.5], [1e-7, 2], [0.1, -0.5]]
        for base64 in [false, true] {
            let body = EmbeddingBatch.answer(vectors: vectors.map(bytes), model: "text-embedding-3-small", promptTokens: 12, base64: base64)
            let answer = try JSONParser.parse(Array(body.readableBytesView))
            XCTAssertEqual(answer["object"], .string("list"))
            XCTAssertEqual(answer["model"], .string("text-embedding-3-small"))
            XCTAssertEqual(answer["usage"]?["prompt_tokens"]?.intValue, 12)
            XCTAssertEqual(answer["usage"]?["total_tokens"]?.intValue, 12)
            let data = try XCTUnwrap(answer["data"]?.arrayValue)
            XCTAssertEqual(data.map { $0["index"]?.intValue }, [0, 1, 2])
            let read = try XCTUnwrap(EmbeddingBatch.read(answer: Array(body.readableBytesView), count: 3))
            XCTAssertEqual(read.vectors, vectors, "base64: \(base64)")
        }
        // Floats are written as the exact double of each float32, which is what a client that
        // decodes base64 float32s gets too.
        let floats = EmbeddingBatch.answer(vectors: [bytes([0.1])], model: "m", promptTokens: 1, base64: false)
        XCTAssertTrue(String(buffer: floats).contains("[0.10000000149011612]"), String(buffer: floats))
    }

    func testStoredVectorBytesRoundTrip() {
        let vector: [Float] = [0, -0, 1.5, -3.25e-5, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        XCTAssertEqual(EmbeddingBatch.vector(float32: EmbeddingBatch.float32Bytes(vector)), vector)
        XCTAssertEqual(EmbeddingBatch.vector(float32: bytes(vector)), vector)
        XCTAssertEqual(EmbeddingBatch.float32Bytes([1]), [0, 0, 0x80, 0x3F], "little-endian")
        XCTAssertNil(EmbeddingBatch.vector(float32: [0, 0, 0]))
        XCTAssertNil(EmbeddingBatch.vector(float32: EmbeddingBatch.float32Bytes([.nan])))
    }

    // MARK: replay

    /// What a batch gets when it may not contact the provider (`fetchAllowed: false`, the hook
    /// for replay mode) and some inputs are missing.
    func testABatchThatMayNotFetchGets504CacheMiss() {
        let response = ProxyEngine.inputsNotCached(missing: 2, cached: 3, total: 5, model: "m", reason: "cache.mode is replay")
        XCTAssertEqual(response.status.code, 504)
        XCTAssertEqual(response.headers[ProxyEngine.cacheHeader], "MISS")
        XCTAssertEqual(response.headers[ProxyEngine.cachedInputsHeader], "3/5")
    }

    // MARK: in flight

    func testASecondBatchWaitsForTheInputsTheFirstIsFetching() async throws {
        let table = EmbeddingInFlight()
        let (a, b, c) = (try key(.text("a")), try key(.text("b")), try key(.text("c")))
        let first = table.claim([a, b])
        XCTAssertEqual(Set(first.leading.keys), [a, b])
        let second = table.claim([b, c])
        XCTAssertEqual(Set(second.leading.keys), [c])
        XCTAssertEqual(Set(second.joined.keys), [b])
        let waiter = Task { await second.joined[b]!.value() }
        let vector = EmbeddingInFlight.Vector(float32: bytes([1, 2]), promptTokens: 3)
        table.resolve(b, first.leading[b]!, with: vector)
        let got = await waiter.value
        XCTAssertEqual(got, vector)
        // A failed fetch hands nil to its waiters; a resolved key is claimable again.
        let late = table.claim([a])
        XCTAssertTrue(late.leading.isEmpty)
        table.resolve(a, first.leading[a]!, with: nil)
        let failed = await late.joined[a]!.value()
        XCTAssertNil(failed)
        table.resolve(c, second.leading[c]!, with: vector)
        table.resolve(c, second.leading[c]!, with: nil)  // twice: harmless, the first outcome stays
        let resolvedC = await second.leading[c]!.value()
        XCTAssertEqual(resolvedC, vector)
        XCTAssertEqual(table.count, 0)
        XCTAssertEqual(Set(table.claim([a, b, c]).leading.keys), [a, b, c])
    }
}
