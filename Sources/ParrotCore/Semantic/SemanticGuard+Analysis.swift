import Foundation

/// How ``SemanticGuard`` reads one text: its words, what the word lists say about each, and
/// the per-text facts (numbers, negations, languages, names, content words) the rules compare.
extension SemanticGuard {
    /// What the word lists say about a word, looked up once per word.
    struct Kind: OptionSet, Sendable {
        let rawValue: UInt16
        static let stop = Kind(rawValue: 1 << 0)
        static let negation = Kind(rawValue: 1 << 1)
        static let extraNegation = Kind(rawValue: 1 << 2)
        static let relational = Kind(rawValue: 1 << 3)
        static let language = Kind(rawValue: 1 << 4)
        static let ambiguousFormat = Kind(rawValue: 1 << 5)
        static let ambiguousLanguage = Kind(rawValue: 1 << 6)
        static let spelledNumber = Kind(rawValue: 1 << 7)
        static let pronounI = Kind(rawValue: 1 << 8)
        static let role = Kind(rawValue: 1 << 9)
        static let formatMarker = Kind(rawValue: 1 << 10)
        static let languageMarker = Kind(rawValue: 1 << 11)
        /// Looked up by the apostrophe-free form ("dont", "im").
        static let byFoldedForm: Kind = [.stop, .negation]
    }

    struct Word {
        /// Lower case, edge punctuation (. ' ’ -) trimmed, possessive "'s" dropped.
        var lower: String
        /// `lower` without apostrophes: "don't" → "dont", "i'm" → "im".
        var folded: String
        var kind: Kind = []
        var capitalised = false
        /// A capital after the first letter ("iOS", "PostgreSQL", "JSON").
        var innerCapital = false
        /// Starts with a digit or "$" ("20kg", "$300,000").
        var numeric = false
        /// First word of the text, of a line, or after a chunk ending in . ! ? or :.
        var opensSentence = false
        /// "user" in "user: …" at the start of a line (SemanticText's role prefix).
        var roleLabel = false
        /// Only spaces between this word and the next (a unit may follow a number).
        var spaceToNext = false
        /// A trimmed "." or "-" ended the raw word ("2024." before "Thanks").
        var trailingPunctuation = false
    }

    struct Analysis {
        let words: [Word]
        let wordSet: Set<String>

        init(_ text: String) {
            let scalars = Array(text.unicodeScalars)
            var words: [Word] = []
            var start: Int?
            var chunkOpensSentence = true  // the next chunk starts a sentence
            var firstInChunk = true
            var lineStart = true
            var lastInChunk: Unicode.Scalar?
            var separatorIsSpace = false  // since the previous word
            func flush(_ end: Int) {
                guard let s = start else { return }
                start = nil
                if let word = Analysis.word(scalars[s..<end], following: end < scalars.count ? scalars[end] : nil,
                                            opensSentence: firstInChunk && chunkOpensSentence, lineStart: lineStart) {
                    if !words.isEmpty { words[words.count - 1].spaceToNext = separatorIsSpace }
                    words.append(word)
                    lineStart = false
                    separatorIsSpace = !word.trailingPunctuation
                } else {
                    separatorIsSpace = false  // "...", "-"
                }
                firstInChunk = false
            }
            for (i, scalar) in scalars.enumerated() {
                let isWordScalar = Analysis.isWordScalar(scalar)
                    || (scalar == "," && i > 0 && i + 1 < scalars.count && Analysis.isDigit(scalars[i - 1]) && Analysis.isDigit(scalars[i + 1]))
                if isWordScalar {
                    if start == nil { start = i }
                    lastInChunk = scalar
                    continue
                }
                flush(i)
                if Analysis.isSpace(scalar) {
                    if let last = lastInChunk {  // a chunk (whitespace-delimited) just ended
                        chunkOpensSentence = last == "." || last == "!" || last == "?" || last == ":"
                        lastInChunk = nil
                    }
                    if scalar == "\n" || scalar == "\r" {
                        chunkOpensSentence = true
                        lineStart = true
                        separatorIsSpace = false
                    }
                    firstInChunk = true
                } else {
                    separatorIsSpace = false
                    lastInChunk = scalar
                }
            }
            flush(scalars.count)
            self.words = words
            self.wordSet = Set(words.lazy.map(\.lower))
        }

        static func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }

        static func isUpper(_ s: Unicode.Scalar) -> Bool {
            s.isASCII ? s.value >= 0x41 && s.value <= 0x5A : s.properties.isUppercase
        }

        static func isSpace(_ s: Unicode.Scalar) -> Bool {
            s.isASCII ? s == " " || s == "\n" || s == "\t" || s == "\r" || s.value == 0x0B || s.value == 0x0C : s.properties.isWhitespace
        }

        /// Letters, digits and # + ' . % $ - ("c++", "c#", "node.js", "15%", "$5", "wi-fi").
        static let asciiWordScalars: [Bool] = (0..<128).map { (v: Int) -> Bool in
            let byte = UInt8(v)
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { return true }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { return true }
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { return true }
            return "#+'.%$-".utf8.contains(byte)
        }

        static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
            if s.isASCII { return asciiWordScalars[Int(s.value)] }
            if s == "’" || s == "°" { return true }
            let p = s.properties
            return p.isAlphabetic || p.numericType == .decimal || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark
        }

        static func word(_ raw: ArraySlice<Unicode.Scalar>, following: Unicode.Scalar?, opensSentence: Bool, lineStart: Bool) -> Word? {
            var lo = raw.startIndex, hi = raw.endIndex
            func trimmed(_ s: Unicode.Scalar) -> Bool { s == "." || s == "'" || s == "’" || s == "-" }
            while lo < hi, trimmed(raw[lo]) { lo += 1 }
            let rawEnd = hi
            while hi > lo, trimmed(raw[hi - 1]) { hi -= 1 }
            let trailingPunctuation = raw[hi..<rawEnd].contains { $0 == "." || $0 == "-" }
            // Possessive: "Australia's" → "Australia".
            if hi - lo > 2, raw[hi - 1] == "s" || raw[hi - 1] == "S", raw[hi - 2] == "'" || raw[hi - 2] == "’" { hi -= 2 }
            guard lo < hi else { return nil }
            // Lower case and apostrophe-free forms, built by hand: Foundation's string replacement
            // was the slowest step by far, and most words are ASCII.
            let lowerString: String, foldedString: String
            if raw[lo..<hi].allSatisfy(\.isASCII) {
                var apostrophes = 0
                lowerString = String(unsafeUninitializedCapacity: hi - lo) { buffer in
                    for (k, scalar) in raw[lo..<hi].enumerated() {
                        let v = UInt8(scalar.value)
                        buffer[k] = v >= 0x41 && v <= 0x5A ? v + 32 : v
                        if v == 0x27 { apostrophes += 1 }
                    }
                    return hi - lo
                }
                foldedString = apostrophes == 0 ? lowerString : String(lowerString.unicodeScalars.filter { $0 != "'" })
            } else {
                var lower = String.UnicodeScalarView(), folded = String.UnicodeScalarView()
                for scalar in raw[lo..<hi] {
                    let l = scalar.properties.lowercaseMapping.unicodeScalars
                    lower.append(contentsOf: l)
                    if scalar != "'" && scalar != "’" { folded.append(contentsOf: l) }
                }
                lowerString = String(lower)
                foldedString = String(folded)
            }
            let hasApostrophe = lowerString.utf8.count != foldedString.utf8.count
            var word = Word(lower: lowerString, folded: foldedString)
            word.kind = SemanticGuard.lexicon[lowerString] ?? []
            if hasApostrophe, let kind = SemanticGuard.lexicon[foldedString] {
                word.kind.formUnion(kind.intersection(.byFoldedForm))
            }
            word.capitalised = isUpper(raw[lo])
            word.innerCapital = raw[(lo + 1)..<hi].contains(where: isUpper)
            word.numeric = isDigit(raw[lo]) || raw[lo] == "$"
            word.opensSentence = opensSentence
            word.trailingPunctuation = trailingPunctuation
            word.roleLabel = lineStart && following == ":" && word.kind.contains(.role)
            return word
        }

        // MARK: Rule 4: numbers with their units

        func numbers() -> [String] {
            var out: [String] = []
            for (i, word) in words.enumerated() {
                var value: String
                var unit: String
                if word.numeric, let parsed = Analysis.parseNumber(word.lower) {
                    (value, unit) = parsed
                    if unit.isEmpty, word.spaceToNext, i + 1 < words.count, !words[i + 1].kind.contains(.stop) {
                        unit = words[i + 1].lower  // "5 km" vs "5 miles"
                    }
                } else if word.kind.contains(.spelledNumber), let spelled = SemanticGuard.spelledNumbers[word.lower] {
                    // No unit: "two dictionaries" / "two Python dicts" is one question.
                    (value, unit) = (String(spelled), "")
                } else {
                    continue
                }
                unit = SemanticGuard.unitAliases[unit] ?? unit
                while unit.hasSuffix("s") { unit.removeLast() }
                if value.contains(".") {
                    while value.hasSuffix("0") { value.removeLast() }
                    if value.hasSuffix(".") { value.removeLast() }
                }
                out.append(unit.isEmpty ? value : value + ":" + unit)
            }
            return out.sorted()
        }

        /// "$300,000" → ("300000", ""), "20kg" → ("20", "kg"), "3.50" → ("3.50", ""), "800x600" →
        /// ("800", "x600"); nil unless a digit comes first (after an optional "$" and "-").
        static func parseNumber(_ word: String) -> (String, String)? {
            let s = Array(word.unicodeScalars)
            var i = 0
            if i < s.count, s[i] == "$" { i += 1 }
            var value = ""
            if i < s.count, s[i] == "-" { value.unicodeScalars.append("-"); i += 1 }
            guard i < s.count, isDigit(s[i]) else { return nil }
            while i < s.count, isDigit(s[i]) || s[i] == "," {
                if s[i] != "," { value.unicodeScalars.append(s[i]) }
                i += 1
            }
            if i + 1 < s.count, s[i] == ".", isDigit(s[i + 1]) {
                value.unicodeScalars.append(".")
                i += 1
                while i < s.count, isDigit(s[i]) { value.unicodeScalars.append(s[i]); i += 1 }
            }
            var unit = String.UnicodeScalarView()
            unit.append(contentsOf: s[i...])
            return (value, String(unit))
        }

        // MARK: Rule 3: negations

        func negationCount() -> Int {
            words.reduce(0) { count, word in count + (word.kind.isDisjoint(with: [.negation, .extraNegation]) ? 0 : 1) }
        }

        // MARK: Rule 5: languages and formats

        func languages() -> Set<String> {
            var out = Set<String>()
            var capitalisedForms: Set<String>?
            for (i, word) in words.enumerated() where word.kind.contains(.language) {
                if word.kind.contains(.ambiguousFormat), !words[max(0, i - 3)..<i].contains(where: { $0.kind.contains(.formatMarker) }) {
                    continue  // "reverse a list", "List the planets", "hash table"
                }
                if word.kind.contains(.ambiguousLanguage), i == 0 || !words[i - 1].kind.contains(.languageMarker) {
                    // "Go" or "Swift" written capitalised somewhere in the text.
                    if capitalisedForms == nil {
                        capitalisedForms = Set(words.lazy.filter { $0.capitalised && !$0.innerCapital }.map(\.lower))
                    }
                    if !capitalisedForms!.contains(word.lower) { continue }  // "go" the verb, "c" the letter
                }
                out.insert(word.lower)
            }
            return out
        }

        // MARK: Rule 1: names

        func names() -> Set<String> {
            var out = Set<String>()
            for word in words where word.capitalised && (!word.opensSentence || word.innerCapital) {
                if word.numeric || !word.kind.isDisjoint(with: [.pronounI, .negation]) { continue }
                out.insert(word.lower)
            }
            return out
        }

        /// The words of `set` in the order they first occur.
        func firstOccurrences(of set: Set<String>) -> [String] {
            var seen = Set<String>()
            var out: [String] = []
            for word in words where set.contains(word.lower) && seen.insert(word.lower).inserted {
                out.append(word.lower)
                if out.count == set.count { break }
            }
            return out
        }

        // MARK: Rule 2b: what follows to / from / than / when …

        func relationalObjects() -> [String: [String]] {
            var out: [String: [String]] = [:]
            var next: String?  // the first content word after the current position, right to left
            for word in words.reversed() {
                if word.kind.contains(.relational), let object = next { out[word.lower, default: []].append(object) }
                if !word.kind.contains(.stop) { next = word.lower }
            }
            for key in out.keys { out[key]!.reverse() }
            return out
        }

        // MARK: Rule 6: content words

        /// Numbers in canonical form ("$1,000" and "$1000" are one word here: the numbers rule
        /// has already found them equal).
        func contentWords() -> [String] {
            words.compactMap { word in
                if word.kind.contains(.stop) || word.roleLabel { return nil }
                if word.numeric, let (value, unit) = Analysis.parseNumber(word.lower) { return value + unit }
                return word.folded
            }
        }
    }
}
