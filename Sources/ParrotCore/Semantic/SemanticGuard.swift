/// What an embedding blurs and a wrong answer would hinge on. Two texts may share an answer only
/// if they agree on: the numbers (with their units), negations, direction words, languages and
/// formats asked for, and capitalised names (entities, months, languages) in the same order.
/// "English to French" vs "French to English", "20 kg" vs "40 kg", "go well" vs "don't go well",
/// "in Python" vs "in Rust", "2023" vs "2024" all score ≥ 0.95 with MiniLM and are all refused here.
public enum SemanticGuard {
    public static func compatible(_ a: String, _ b: String) -> Bool {
        let fa = Features(a)
        let fb = Features(b)
        return fa == fb
    }

    static let negations: Set<String> = [
        "not", "no", "never", "none", "nor", "nothing", "nobody", "nowhere", "without", "neither",
        "cannot", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt",
        "cant", "couldnt", "shouldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt", "except", "excluding", "unless",
    ]

    static let directions: Set<String> = [
        "to", "from", "into", "before", "after", "above", "below", "over", "under", "up", "down",
        "left", "right", "increase", "decrease", "increasing", "decreasing", "more", "less", "fewer",
        "higher", "lower", "larger", "smaller", "bigger", "longer", "shorter", "faster", "slower",
        "min", "max", "minimum", "maximum", "first", "last", "ascending", "descending", "asc", "desc",
        "earlier", "later", "past", "future", "north", "south", "east", "west", "inside", "outside",
        "encode", "decode", "encrypt", "decrypt", "compress", "decompress", "import", "export",
        "add", "remove", "subtract", "multiply", "divide", "buy", "sell", "send", "receive",
        "best", "worst", "most", "least", "pros", "cons", "advantages", "disadvantages", "true", "false",
        "yes", "always", "sometimes", "all", "any", "some", "every", "each", "only", "plural", "singular",
    ]

    /// Languages (natural and programming) and formats, compared as an ordered list in lower case
    /// because users often type them that way ("in python", "as json").
    static let languagesAndFormats: Set<String> = [
        "english", "french", "german", "spanish", "italian", "portuguese", "dutch", "russian", "chinese",
        "mandarin", "cantonese", "japanese", "korean", "arabic", "hindi", "bengali", "turkish", "polish",
        "swedish", "norwegian", "danish", "finnish", "greek", "hebrew", "latin", "ukrainian", "czech",
        "vietnamese", "thai", "indonesian", "persian", "urdu", "swahili",
        "python", "rust", "swift", "java", "javascript", "typescript", "go", "golang", "c", "c++", "cpp",
        "c#", "csharp", "kotlin", "scala", "ruby", "php", "perl", "haskell", "elixir", "erlang", "lua",
        "r", "julia", "matlab", "bash", "shell", "powershell", "sql", "dart", "zig", "ocaml", "fortran",
        "cobol", "clojure", "lisp", "scheme", "assembly", "wasm", "html", "css",
        "json", "yaml", "yml", "xml", "csv", "tsv", "toml", "markdown", "md", "latex", "pdf", "docx",
        "table", "list", "bullet", "bullets", "paragraph", "haiku", "poem", "sonnet", "limerick", "essay",
        "tweet", "email", "letter", "summary", "outline", "code", "regex", "diagram", "uml",
        "celsius", "fahrenheit", "kelvin", "metric", "imperial",
    ]

    struct Features: Equatable {
        var numbers: [String] = []
        var negations = 0
        var directions: [String: Int] = [:]
        var languages: [String] = []
        var names: [String] = []

        init(_ text: String) {
            var previousEndsSentence = true
            for raw in Self.tokens(text) {
                let word = raw.trimmingCharacters(in: Self.edgePunctuation)
                let endsSentence = raw.last.map { ".!?:\n".contains($0) } ?? false
                defer { previousEndsSentence = endsSentence || raw.isEmpty }
                guard !word.isEmpty else { continue }
                let lower = word.lowercased()
                let folded = lower.replacingOccurrences(of: "'", with: "").replacingOccurrences(of: "’", with: "")
                if word.first!.isNumber || (word.first == "-" && word.dropFirst().first?.isNumber == true) || word.first == "$" {
                    numbers.append(Self.normalizeNumber(lower))
                    continue
                }
                if folded.hasSuffix("nt") && SemanticGuard.negations.contains(folded) || SemanticGuard.negations.contains(folded) || folded.hasSuffix("n't") {
                    negations += 1
                    continue
                }
                if SemanticGuard.directions.contains(lower) { directions[lower, default: 0] += 1 }
                if SemanticGuard.languagesAndFormats.contains(lower) { languages.append(lower) }
                if word.first!.isUppercase, !previousEndsSentence || word.count > 1 && word.dropFirst().contains(where: \.isUppercase) {
                    names.append(lower)
                }
            }
        }

        static let edgePunctuation = CharacterSet(charactersIn: ".,;:!?\"'()[]{}<>«»“”‘’`*_")

        static func tokens(_ text: String) -> [String] {
            var tokens: [String] = []
            var current = ""
            for ch in text {
                if ch.isWhitespace {
                    if !current.isEmpty { tokens.append(current); current = "" }
                    if ch == "\n" { tokens.append("\n") }
                } else if ch.isNumber != (current.last?.isNumber ?? ch.isNumber), !current.isEmpty,
                          !(current.last == "." || current.last == "," || ch == "." || ch == ","),
                          !(current.last?.isNumber == true && ch.isLetter && current.allSatisfy { $0.isNumber || $0 == "." || $0 == "," }) {
                    // "20kg" stays one token (number with unit); "gpt4" splits so the 4 is a number.
                    tokens.append(current)
                    current = String(ch)
                } else {
                    current.append(ch)
                }
            }
            if !current.isEmpty { tokens.append(current) }
            return tokens
        }

        /// "20", "20.0", "20,000" → canonical digits; unit suffixes kept ("20kg").
        static func normalizeNumber(_ token: String) -> String {
            var digits = ""
            var unit = ""
            for ch in token {
                if unit.isEmpty, ch.isNumber || ch == "." || ch == "-" { digits.append(ch) } else if ch != "," { unit.append(ch) }
            }
            if let value = Double(digits) { digits = JSONValue.canonicalNumber(value) }
            return digits + unit
        }
    }
}

import Foundation
