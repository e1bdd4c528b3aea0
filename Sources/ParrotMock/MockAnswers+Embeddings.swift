import Foundation

extension MockAnswers {
    /// `/v1/embeddings` for `input` as a string or an array (strings or token arrays). Vectors
    /// are unit length and deterministic from the text, unless the test pinned one with
    /// ``MockUpstream/setEmbedding(_:for:)`` to control a cosine similarity exactly.
    static func embeddings(_ body: MockJSON, fixed: (String) -> [Float]?) -> String {
        let model = body["model"]?.string ?? "text-embedding-3-small"
        let dimensions = max(1, body["dimensions"]?.int ?? 8)
        let base64 = body["encoding_format"]?.string == "base64"
        // As the real API reads `input`: a string or a flat list of token ids is one input, a
        // list of strings or of id lists is several. Each input costs its own tokens (characters
        // / 4 + 1, or its ids), so a batch costs the sum of its inputs, as it does upstream.
        let inputs: [MockJSON]
        switch body["input"] {
        case .array(let items)? where !items.isEmpty && items.allSatisfy({ $0.int != nil }): inputs = [.array(items)]
        case .array(let items)?: inputs = items
        case let other: inputs = [other ?? .null]
        }
        let texts = inputs.map { MockPrompt.text(of: $0) }
        var json = #"{"object":"list","data":["#
        var tokens = 0
        for (index, text) in texts.enumerated() {
            if case .array(let ids) = inputs[index] { tokens += ids.count } else { tokens += MockContent.tokens(characters: text.count) }
            let vector = fixed(text) ?? embedding(of: text, dimensions: dimensions)
            if index > 0 { json += "," }
            json += #"{"object":"embedding","index":\#(index),"embedding":"#
            if base64 {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(vector.count * 4)
                for value in vector {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
                json += "\"" + Data(bytes).base64EncodedString() + "\""
            } else {
                json += "[" + vector.map { "\($0)" }.joined(separator: ",") + "]"
            }
            json += "}"
        }
        json += #"],"model":\#(String.jsonString(model)),"usage":{"prompt_tokens":\#(tokens),"total_tokens":\#(tokens)}}"#
        return json
    }

    /// A unit vector seeded from an FNV-1a hash of the text: stable across runs and processes
    /// (unlike `Hasher`), and different texts land far apart.
    static func embedding(of text: String, dimensions: Int) -> [Float] {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            seed = (seed ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        var vector: [Double] = []
        vector.reserveCapacity(dimensions)
        for _ in 0..<dimensions {
            // SplitMix64
            seed &+= 0x9E37_79B9_7F4A_7C15
            var mixed = seed
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            vector.append(Double(mixed >> 11) / Double(1 << 53) * 2 - 1)
        }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { return [Float](repeating: 0, count: dimensions) }
        return vector.map { Float($0 / norm) }
    }
}
