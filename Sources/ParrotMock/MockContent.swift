/// The answer text the mock "generates": deterministic from the request, so a test can predict
/// it and a cached answer can be compared byte for byte with a fresh one.
enum MockContent {
    static func answer(to userText: String, size: Int?) -> String {
        var text = "Mock answer to: " + userText
        guard let size, size > text.utf8.count else { return text }
        text.reserveCapacity(size)
        text.append(" ")
        while text.utf8.count < size {
            let missing = size - text.utf8.count
            if missing >= filler.utf8.count {
                text.append(filler)
            } else {
                text.append(contentsOf: filler.prefix(missing))
            }
        }
        return text
    }

    /// Splits `text` into exactly `count` pieces (some may be empty), never inside a Unicode
    /// scalar, so every streamed chunk is valid UTF-8 and their concatenation is `text`.
    static func pieces(of text: String, count: Int) -> [Substring] {
        let count = max(1, count)
        let scalars = text.unicodeScalars
        let total = scalars.count
        var result: [Substring] = []
        result.reserveCapacity(count)
        var start = scalars.startIndex
        var taken = 0
        for piece in 0..<count {
            let target = total * (piece + 1) / count
            let end = scalars.index(start, offsetBy: target - taken)
            result.append(Substring(scalars[start..<end]))
            taken = target
            start = end
        }
        return result
    }

    /// A token estimate of about four characters a token, deterministic so usage figures can be
    /// asserted.
    static func tokens(characters: Int) -> Int {
        characters / 4 + 1
    }

    /// Plain ASCII so that any byte prefix is valid UTF-8.
    private static let filler: String = {
        let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
        return String(repeating: words, count: 64)
    }()
}
