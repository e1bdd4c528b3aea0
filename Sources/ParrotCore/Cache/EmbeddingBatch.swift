import Foundation
import NIOCore

/// The pure part of the per-input embeddings cache (DESIGN.md, "Cache modes, embeddings
/// batches, sample sets"): reading a request's inputs, the one request per chunk of missing
/// inputs, splitting a batch's `prompt_tokens` among its inputs, reading an upstream answer,
/// and writing the assembled answer in the request's order and encoding. No sockets, no cache.
public enum EmbeddingBatch {
    /// OpenAI's limit of inputs in one `/v1/embeddings` request.
    public static let openAIMaxInputs = 2048

    /// The request body's fields that do not enter a per-input key besides the input itself:
    /// `encoding_format` (vectors are stored once, served in either encoding), `user`, and
    /// `model` (a key member of its own).
    static let unkeyedFields: Set<String> = ["input", "encoding_format", "user", "model"]

    /// The request's inputs in order, or nil when `input` is not a shape Parrot splits (absent,
    /// empty, mixed, ids that are not integers): such a request takes the whole-request path
    /// and the provider says what is wrong with it. A string or a flat list of ids is one input.
    public static func inputs(of body: JSONValue) -> [EmbeddingInput]? {
        switch body["input"] {
        case .string(let text)?:
            return [.text(text)]
        case .array(let items)? where !items.isEmpty:
            if case .string = items[0] {
                var texts: [EmbeddingInput] = []
                texts.reserveCapacity(items.count)
                for item in items {
                    guard case .string(let text) = item else { return nil }
                    texts.append(.text(text))
                }
                return texts
            }
            if case .number = items[0] {
                return tokenIDs(items).map { [.tokens($0)] }
            }
            var lists: [EmbeddingInput] = []
            lists.reserveCapacity(items.count)
            for item in items {
                guard case .array(let ids) = item, !ids.isEmpty, let tokens = tokenIDs(ids) else { return nil }
                lists.append(.tokens(tokens))
            }
            return lists
        default:
            return nil
        }
    }

    private static func tokenIDs(_ items: [JSONValue]) -> [Int]? {
        var ids: [Int] = []
        ids.reserveCapacity(items.count)
        for item in items {
            guard case .number(let text) = item, let id = Int(text) else { return nil }
            ids.append(id)
        }
        return ids
    }

    /// What a per-input key holds of the request besides provider, model, namespace and input.
    public static func keyedParameters(of body: JSONValue) -> JSONValue {
        body.removing(unkeyedFields)
    }

    /// Whether the client asked for base64 (the official Python SDK does by default) or floats.
    public static func wantsBase64(_ body: JSONValue) -> Bool {
        body["encoding_format"]?.stringValue == "base64"
    }

    /// The distinct keys of a request, in order of first appearance: a duplicate input is looked
    /// up and fetched once, and answered at each of its positions.
    public static func distinct(_ keys: [CacheKey]) -> [CacheKey] {
        var seen = Set<CacheKey>()
        return keys.filter { seen.insert($0).inserted }
    }

    /// Consecutive pieces of at most `limit` items: one upstream request each.
    public static func chunks<T>(_ items: [T], limit: Int) -> [ArraySlice<T>] {
        let size = max(1, limit)
        return stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
    }

    /// Splits `total` into parts proportional to `weights` that sum to exactly `total`: each
    /// part is the floor of its quota, and the units left over go to the largest remainders
    /// (earlier positions first on ties). All-zero weights split evenly.
    public static func apportion(_ total: Int, weights: [Int]) -> [Int] {
        guard !weights.isEmpty else { return [] }
        let total = max(0, total)
        var weights = weights.map { max(0, $0) }
        if weights.allSatisfy({ $0 == 0 }) { weights = Array(repeating: 1, count: weights.count) }
        let sum = weights.reduce(0, +)
        var parts: [Int] = []
        var remainders: [(remainder: Int, index: Int)] = []
        parts.reserveCapacity(weights.count)
        remainders.reserveCapacity(weights.count)
        for (index, weight) in weights.enumerated() {
            let (quotient, remainder) = total.multipliedFullWidth(by: weight)
            let (part, rest) = sum.dividingFullWidth((quotient, remainder))
            parts.append(part)
            remainders.append((rest, index))
        }
        let left = total - parts.reduce(0, +)
        remainders.sort { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
        for slot in remainders.prefix(left) { parts[slot.index] += 1 }
        return parts
    }

    /// The request the provider gets for some missing inputs: the client's body with `input`
    /// replaced by those inputs, everything else (order included) as the client sent it.
    public static func upstreamBody(_ body: JSONValue, inputs: some Collection<EmbeddingInput>) -> ByteBuffer {
        var body = body
        body.set("input", .array(inputs.map(\.json)))
        return body.byteBuffer
    }

    /// A provider's complete answer, read: one vector per input it was sent, in input order,
    /// as little-endian float32s (a base64 answer's bytes are kept as they came).
    public struct Fetched: Sendable, Equatable {
        public var float32: [ByteBuffer]
        public var promptTokens: Int

        /// The vectors as floats (for reading them, not for serving them).
        public var vectors: [[Float]] { float32.compactMap { EmbeddingBatch.vector(float32: $0) } }
    }

    /// Reads a 2xx answer to a request of `count` inputs: `data[i].embedding` as floats or
    /// base64 float32, placed by `index`. nil when it is not exactly one finite vector per input.
    public static func read(answer bytes: [UInt8], count: Int) -> Fetched? {
        guard let json = try? JSONParser.parse(bytes), json["error"] == nil || json["error"] == .null,
              let data = json["data"]?.arrayValue, data.count == count
        else { return nil }
        var vectors = [ByteBuffer?](repeating: nil, count: count)
        for (position, item) in data.enumerated() {
            let index = item["index"]?.intValue ?? position
            guard vectors.indices.contains(index), vectors[index] == nil, let vector = float32(item["embedding"]) else { return nil }
            vectors[index] = vector
        }
        let promptTokens = json["usage"]?["prompt_tokens"]?.intValue ?? json["usage"]?["total_tokens"]?.intValue ?? 0
        return Fetched(float32: vectors.map { $0! }, promptTokens: max(0, promptTokens))
    }

    private static func float32(_ value: JSONValue?) -> ByteBuffer? {
        switch value {
        case .array(let numbers)? where !numbers.isEmpty:
            var vector: [Float] = []
            vector.reserveCapacity(numbers.count)
            for number in numbers {
                guard let double = number.doubleValue, double.isFinite, Float(double).isFinite else { return nil }
                vector.append(Float(double))
            }
            return ByteBuffer(bytes: float32Bytes(vector))
        case .string(let text)?:
            guard let data = Data(base64Encoded: text), !data.isEmpty else { return nil }
            let buffer = ByteBuffer(bytes: data)
            guard buffer.withUnsafeReadableBytes({ isFiniteFloat32($0) }) else { return nil }
            return buffer
        default:
            return nil
        }
    }

    private static func isFiniteFloat32(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.count % 4 == 0 else { return false }
        return (0..<(raw.count / 4)).allSatisfy { float32(raw, at: $0).isFinite }
    }

    /// The `i`th little-endian float32 of `raw`.
    private static func float32(_ raw: UnsafeRawBufferPointer, at i: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
    }

    /// Little-endian float32s: how a vector is stored and how base64 answers carry it.
    public static func float32Bytes(_ vector: [Float]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: vector.count * 4) { out, written in
            let raw = UnsafeMutableRawBufferPointer(out)
            for (i, value) in vector.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
            written = vector.count * 4
        }
    }

    /// The vector in little-endian float32 bytes; nil when the length is not a whole number of
    /// floats or a value is not finite.
    public static func vector(float32 bytes: [UInt8]) -> [Float]? {
        bytes.withUnsafeBytes { floats($0) }
    }

    public static func vector(float32 buffer: ByteBuffer) -> [Float]? {
        buffer.withUnsafeReadableBytes { floats($0) }
    }

    private static func floats(_ raw: UnsafeRawBufferPointer) -> [Float]? {
        guard raw.count % 4 == 0 else { return nil }
        let count = raw.count / 4
        var finite = true
        let vector = [Float](unsafeUninitializedCapacity: count) { out, written in
            for i in 0..<count {
                let value = float32(raw, at: i)
                finite = finite && value.isFinite
                out[i] = value
            }
            written = count
        }
        return finite ? vector : nil
    }

    /// The answer to the client, in its request's order (`index` 0, 1, …) and encoding. A float
    /// is written as the shortest decimal of its exact double value, so a client decoding floats
    /// and one decoding base64 float32 read the same numbers.
    /// - Parameter vectors: each position's vector as little-endian float32s.
    public static func answer(vectors: [ByteBuffer], model: String, promptTokens: Int, base64: Bool) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(64 + vectors.reduce(0) { $0 + $1.readableBytes / 4 * (base64 ? 6 : 22) + 48 })
        out.writeString(#"{"object":"list","data":["#)
        for (index, vector) in vectors.enumerated() {
            if index > 0 { out.writeString(",") }
            out.writeString(#"{"object":"embedding","index":"#)
            out.writeString(String(index))
            out.writeString(#","embedding":"#)
            if base64 {
                out.writeString("\"")
                out.writeString(vector.withUnsafeReadableBytes { Data($0) }.base64EncodedString())
                out.writeString("\"")
            } else {
                out.writeString("[")
                vector.withUnsafeReadableBytes { raw in
                    for i in 0..<(raw.count / 4) {
                        if i > 0 { out.writeString(",") }
                        out.writeString(Double(float32(raw, at: i)).description)
                    }
                }
                out.writeString("]")
            }
            out.writeString("}")
        }
        out.writeString(#"],"model":"#)
        JSONValue.string(model).encode(into: &out)
        out.writeString(#","usage":{"prompt_tokens":\#(promptTokens),"total_tokens":\#(promptTokens)}}"#)
        return out
    }
}
