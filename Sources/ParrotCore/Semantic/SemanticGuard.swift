/// What an embedding blurs and a wrong answer would hinge on. MiniLM scores "English to French" /
/// "French to English", "safe" / "unsafe", "5 km" / "5 miles" and "cats" / "dogs" at 0.9–0.998,
/// often *higher* than real paraphrases, so no threshold separates them (bench/semantic/README.md).
/// A cached answer is served for a similar request only if every rule below agrees; each rule
/// exists because of wrong hits measured there, and each is written so that the common ways of
/// rephrasing a question ("How do I …" / "Best way to …", "canada" / "Canada") still pass.
///
/// 1. **Names** — capitalised words not opening a sentence, or with an inner capital ("Paris",
///    "PostgreSQL", "iOS"): each must occur in the other text, in any case and position
///    ("Canada" / "canada", "in Python" / "Python: …"). When one text only rearranges the other's
///    content words, the names must also come in the same order ("What time is it in Tokyo when
///    it's noon in London?" / "… in London when it's noon in Tokyo?"); a reworded paraphrase may
///    reorder them ("How far is the Moon from the Earth?" / "distance between the Earth and the
///    Moon"). "I" and its contractions are not names (they made "How do I …" refuse every "Best
///    way to …"); a possessive "'s" is dropped.
/// 2. **Directions** — (a) *opposites*: one text uses a word of a group (increase/decrease,
///    up/down, clockwise/counterclockwise, today/tomorrow, this/next, simple/technical, …) that
///    the other lacks while the other uses a different word of that group; (b) *swapped
///    arguments*: the first content word after to/from/into/onto/than/when/vs must be the same
///    when both words occur in both texts ("a string to a datetime" / "a datetime to a string").
///    These replace a whole-text count of direction words, which refused "how to" paraphrases
///    and could not see swapped lowercase arguments at all.
/// 3. **Negation** — the same number of negations, counting "lack", "avoid", "unable",
///    "missing" as negations, and no word against its prefixed form ("safe" / "unsafe",
///    "legal" / "illegal", "tracked" / "untracked", "clockwise" / "counterclockwise").
/// 4. **Numbers** — the same multiset of numbers, each with its unit: a unit written in the
///    digits ("20kg", "180°C") or the next word after a space ("5 km" ≠ "5 miles"); written-out
///    numbers count, without a unit ("seventy" / "ninety"), except "one" (a pronoun as often as a
///    number). Order is free ("12 times 13" / "13 times 12").
/// 5. **Languages and formats** — the same set of natural or programming languages and output
///    formats; words that are ordinary words too count only in context: a format such as "list",
///    "table", "summary", "code" only within three words after "as", "in" or "into" ("reverse a
///    list" is not a format), a language such as "go", "c", "r", "swift", "rust" only when
///    capitalised or right after "in", "with", "using" or "for".
/// 6. **One slot changed** — when the content words (function words dropped) are the same
///    sequence except one replaced span of at most two words on each side, the span is what the
///    question is about ("cats" / "dogs", "flour" / "sugar", "vegetarian" / "vegan", "allow" /
///    "block"): refused unless every replaced word is an interchangeable request word
///    ("write" / "create", "how" / "what"). British/American spellings ("summarise" /
///    "summarize") are the same word here. The price is one-word synonym paraphrases ("wrote" /
///    "author"): a miss, never a wrong answer.
///
/// Every rule is a linear pass over the words, with hashed sets; nothing is quadratic and there
/// is no regular expression. Texts over `wholeTextLimit` bytes (long conversations) are compared
/// on the region where they differ plus `windowContext` bytes around it (the identical head and
/// tail contribute the same words to both sides); if that region is itself over the limit the
/// texts are too different to vouch for and the answer is no (a miss).
///
/// `bench/semantic/guard_port.py` (`proposed_differences(strict=True)`) is the simulation these
/// rules were ported from; the deliberate differences are listed in `refusal(_:_:)`.
public enum SemanticGuard {
    public static func compatible(_ a: String, _ b: String) -> Bool {
        refusal(a, b) == nil
    }

    /// Which rule refuses the pair, or nil when the two texts may share an answer. The first
    /// failing rule is returned; the order is cheapest first.
    ///
    /// Differences from the Python simulation (it agrees with this code on all 296 benchmark
    /// pairs except hold-out #50, Tokyo/London, which only the name order check catches): one
    /// tokenizer for every rule, so "G7", "GPT4" or "Node.js" are the same word for the names rule
    /// and for the word sets (the simulation's two tokenizers refused any pair containing "G7");
    /// letters outside ASCII are letters; "1,000" is one number; a unit is not taken across
    /// punctuation ("in 2024? Thanks"); stop words are looked up without apostrophes everywhere
    /// ("I'm"); only a role label ("user:" at the start of a line) is left out of the one-slot
    /// comparison, not every "user"; British/American spellings ("summarise") and number formats
    /// ("$1,000" / "$1000") are one word there; the one-slot rule takes the common head and tail
    /// of the content words, which is difflib's answer except on repetitive text, where it
    /// refuses more; and the name order check.
    static func refusal(_ a: String, _ b: String) -> Rule? {
        if a == b { return nil }
        guard let (textA, textB) = comparedRegions(a, b) else { return .tooLong }
        let x = Analysis(textA)
        let y = Analysis(textB)
        if x.numbers() != y.numbers() { return .numbers }
        if x.negationCount() != y.negationCount() { return .negations }
        if x.languages() != y.languages() { return .languages }
        let namesX = x.names(), namesY = y.names()
        if !namesX.isSubset(of: y.wordSet) || !namesY.isSubset(of: x.wordSet) { return .names }
        let contentX = x.contentWords(), contentY = y.contentWords()
        let shared = namesX.union(namesY)
        if shared.count > 1, x.firstOccurrences(of: shared) != y.firstOccurrences(of: shared),
           contentX.map(americanSpelling).sorted() == contentY.map(americanSpelling).sorted() {
            return .nameOrder  // the same words rearranged: the names swapped roles
        }
        let onlyX = x.wordSet.subtracting(y.wordSet), onlyY = y.wordSet.subtracting(x.wordSet)
        if opposed(onlyX, onlyY) { return .opposites }
        if prefixNegated(onlyX, onlyY) || prefixNegated(onlyY, onlyX) { return .prefixNegation }
        if argumentsSwapped(x, y) { return .swappedArguments }
        if oneSlotChanged(contentX, contentY) { return .oneSlot }
        return nil
    }

    enum Rule: String, Sendable {
        case tooLong, numbers, negations, languages, names, nameOrder, opposites, prefixNegation, swappedArguments, oneSlot
    }

    // MARK: - Long texts

    /// Texts up to this many UTF-8 bytes are analysed whole. In a release build a pair of one-line
    /// prompts takes about 20 µs, a pair of 8 KB texts about 2 ms, a pair of 1 MB conversations
    /// differing in their last message about 1 ms (the byte comparison that finds the region).
    static let wholeTextLimit = 8 * 1024
    /// Identical bytes kept on each side of the differing region of long texts.
    static let windowContext = 512

    /// Both texts whole when short; otherwise the differing region of each (the same byte range
    /// of the common head and tail removed from both), or nil when that region is over the limit.
    static func comparedRegions(_ a: String, _ b: String) -> (String, String)? {
        if a.utf8.count <= wholeTextLimit, b.utf8.count <= wholeTextLimit { return (a, b) }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in differingRegions(x, y) } }
    }

    private static func differingRegions(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> (String, String)? {
        let shorter = min(x.count, y.count)
        var head = 0
        while head < shorter, x[head] == y[head] { head += 1 }
        var tail = 0
        while tail < shorter - head, x[x.count - 1 - tail] == y[y.count - 1 - tail] { tail += 1 }
        // Start `windowContext` bytes before the first difference, at a word boundary inside the
        // common head (identical in both, so the same offset is valid in both).
        var start = max(0, head - windowContext)
        var scanned = 0
        while start > 0, scanned < 64, !isSpace(x[start - 1]) { start -= 1; scanned += 1 }
        while start > 0, isContinuation(x[start]) { start -= 1 }
        // Drop the common tail except `windowContext` bytes, cutting at a word boundary.
        var cut = max(0, tail - windowContext)
        scanned = 0
        while cut > 0, scanned < 64, !isSpace(x[x.count - cut]) { cut -= 1; scanned += 1 }
        while cut > 0, isContinuation(x[x.count - cut]) { cut -= 1 }
        let endX = x.count - cut, endY = y.count - cut
        guard endX - start <= wholeTextLimit, endY - start <= wholeTextLimit else { return nil }
        return (String(decoding: UnsafeBufferPointer(rebasing: x[start..<endX]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: y[start..<endY]), as: UTF8.self))
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }
    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    // MARK: - Words

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

    // MARK: - Pair rules

    /// Rule 2a: a word of a group only in one text, a different word of the same group only in the other.
    static func opposed(_ onlyA: Set<String>, _ onlyB: Set<String>) -> Bool {
        var groups = Set<Int>()
        for word in onlyA { for group in oppositeGroups[word] ?? [] { groups.insert(group) } }
        guard !groups.isEmpty else { return false }
        for word in onlyB { for group in oppositeGroups[word] ?? [] where groups.contains(group) { return true } }
        return false
    }

    /// Rule 3: "unsafe" only in one text, "safe" only in the other.
    static func prefixNegated(_ onlyA: Set<String>, _ onlyB: Set<String>) -> Bool {
        for word in onlyA {
            for prefix in negationPrefixes where word.hasPrefix(prefix) {
                let stem = String(word.dropFirst(prefix.count))
                if stem.count > 3, onlyB.contains(stem) { return true }
            }
        }
        return false
    }

    /// Rule 2b: the n-th "to" of each text is followed by different words that both texts use.
    static func argumentsSwapped(_ a: Analysis, _ b: Analysis) -> Bool {
        let objectsA = a.relationalObjects()
        guard !objectsA.isEmpty else { return false }
        let objectsB = b.relationalObjects()
        for (relation, listA) in objectsA {
            guard let listB = objectsB[relation] else { continue }
            for (x, y) in zip(listA, listB) where x != y && b.wordSet.contains(x) && a.wordSet.contains(y) {
                return true
            }
        }
        return false
    }

    /// Rule 6: identical content words except one replaced span of one or two words on each side.
    static func oneSlotChanged(_ a: [String], _ b: [String]) -> Bool {
        func same(_ x: String, _ y: String) -> Bool { x == y || americanSpelling(x) == americanSpelling(y) }
        let shorter = min(a.count, b.count)
        var head = 0
        while head < shorter, same(a[head], b[head]) { head += 1 }
        var tail = 0
        while tail < shorter - head, same(a[a.count - 1 - tail], b[b.count - 1 - tail]) { tail += 1 }
        let old = a[head..<(a.count - tail)], new = b[head..<(b.count - tail)]
        guard head + tail >= 2, (1...2).contains(old.count), (1...2).contains(new.count) else { return false }
        // A word on both sides: an insertion and a deletion, not one replaced span.
        guard Set(old.map(americanSpelling)).isDisjoint(with: new.map(americanSpelling)) else { return false }
        return !Set(old).union(new).isSubset(of: interchangeable)
    }

    /// "summarise" → "summarize", "analyse" → "analyze": one word for the one-slot rule.
    static func americanSpelling(_ word: String) -> String {
        guard let last = word.utf8.last, last == UInt8(ascii: "e") || last == UInt8(ascii: "d") || last == UInt8(ascii: "g")
                || last == UInt8(ascii: "s") else { return word }
        for (british, american) in britishEndings where word.hasSuffix(british) && word.count > british.count + 2 {
            return String(word.dropLast(british.count)) + american
        }
        return word
    }

    static let britishEndings: [(String, String)] = [
        ("isation", "ization"), ("isations", "izations"), ("ising", "izing"), ("ised", "ized"), ("ises", "izes"),
        ("ise", "ize"), ("ysing", "yzing"), ("ysed", "yzed"), ("yses", "yzes"), ("yse", "yze"),
    ]

    /// Every listed word with what the lists say about it.
    static let lexicon: [String: Kind] = {
        var map: [String: Kind] = [:]
        func add(_ words: some Sequence<String>, _ kind: Kind) { for word in words { map[word, default: []].insert(kind) } }
        add(stopwords, .stop)
        add(negations, .negation)
        add(extraNegations, .extraNegation)
        add(relational, .relational)
        add(languagesAndFormats, .language)
        add(ambiguousFormats, .ambiguousFormat)
        add(ambiguousLanguages, .ambiguousLanguage)
        add(spelledNumbers.keys.filter { $0 != "one" }, .spelledNumber)  // "one" is a pronoun as often as a number
        add(pronounI, .pronounI)
        add(roles, .role)
        add(["as", "in", "into"], .formatMarker)
        add(languageMarkers, .languageMarker)
        return map
    }()

    // MARK: - Word lists

    static let negations: Set<String> = [
        "not", "no", "never", "none", "nor", "nothing", "nobody", "nowhere", "without", "neither",
        "cannot", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt",
        "cant", "couldnt", "shouldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt", "except", "excluding", "unless",
    ]

    /// Negation carried by a verb or adjective rather than by "not".
    static let extraNegations: Set<String> = ["lack", "lacks", "lacking", "avoid", "avoiding", "unable", "missing"]

    static let negationPrefixes = ["un", "non", "in", "im", "ir", "il", "dis", "counter", "anti", "de"]

    /// Function and request words: skipped when looking for a unit, the object of "to", or the
    /// content words of the one-slot rule. Looked up without apostrophes ("whats", "im").
    static let stopwords: Set<String> = [
        "a", "an", "the", "of", "in", "on", "at", "for", "with", "by", "and", "or", "is", "are", "was", "were", "be",
        "do", "does", "did", "can", "could", "should", "would", "will", "i", "im", "ive", "id", "ill", "me", "my", "you",
        "your", "we", "our", "it", "its", "this", "that", "these", "those", "what", "whats", "which", "who", "how", "why",
        "when", "where", "there", "here", "please", "some", "any", "way", "ways", "to", "from", "into", "onto", "than",
        "vs", "versus", "about", "as", "if", "whether", "so", "just", "like", "between", "give", "tell", "explain",
        "show", "help", "write", "create", "draft", "compose", "make", "get", "tips", "steps", "best", "good", "one",
    ]

    /// Words a paraphrase may swap for each other without changing the question (rule 6).
    static let interchangeable: Set<String> = [
        "write", "create", "draft", "compose", "make", "give", "suggest", "recommend", "explain", "describe",
        "tell", "show", "list", "what", "how", "which", "best", "good", "way", "steps", "tips", "ideas",
        "short", "brief", "quick", "main", "key", "big", "large",
    ]

    /// Members of a group are alternatives to each other (rule 2a).
    static let opposites: [[String]] = [
        ["increase", "decrease"], ["increasing", "decreasing"], ["ascending", "descending"], ["asc", "desc"],
        ["encode", "decode"], ["encrypt", "decrypt"], ["compress", "decompress"], ["import", "export"],
        ["add", "remove", "delete"], ["buy", "sell"], ["send", "receive"], ["upload", "download"], ["push", "pull"],
        ["read", "write"], ["before", "after"], ["above", "below"], ["left", "right"], ["min", "max"],
        ["minimum", "maximum"], ["first", "last"], ["best", "worst"], ["most", "least"], ["more", "less", "fewer"],
        ["higher", "lower"], ["highest", "lowest"], ["larger", "smaller"], ["bigger", "smaller"], ["longer", "shorter"],
        ["faster", "slower"], ["earlier", "later"], ["north", "south"], ["east", "west"], ["inside", "outside"],
        ["true", "false"], ["pros", "cons"], ["advantages", "disadvantages"], ["plural", "singular"],
        ["always", "never", "sometimes"], ["clockwise", "counterclockwise", "anticlockwise"],
        ["safe", "unsafe", "dangerous"], ["succeed", "fail"], ["succeeded", "failed"], ["success", "failure"],
        ["pass", "fail"], ["win", "lose"], ["enable", "disable"], ["start", "stop"], ["open", "close"],
        ["input", "output"], ["hot", "cold"], ["high", "low"], ["rise", "fall"], ["cheap", "expensive"],
        ["today", "tomorrow", "yesterday", "tonight", "this", "next", "last", "previous"],
        ["simple", "detailed", "technical", "advanced"], ["sentence", "paragraph", "paragraphs", "detailed"],
        ["with", "without"],
    ]

    static let oppositeGroups: [String: [Int]] = {
        var map: [String: [Int]] = [:]
        for (index, group) in opposites.enumerated() { for word in group { map[word, default: []].append(index) } }
        return map
    }()

    /// Rule 2b: the word after each of these names an argument whose position matters.
    static let relational: Set<String> = ["to", "from", "into", "onto", "than", "when", "vs", "versus"]

    static let spelledNumbers: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
        "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
        "thousand": 1000, "million": 1_000_000, "dozen": 12,
    ]

    static let unitAliases: [String: String] = ["%": "percent", "°c": "celsius", "°f": "fahrenheit"]

    static let pronounI: Set<String> = ["i", "i'm", "i've", "i'd", "i'll", "i’m", "i’ve", "i’d", "i’ll"]

    static let roles: Set<String> = ["user", "assistant", "system", "developer", "tool"]

    /// Languages (natural and programming), formats and unit systems; compared in lower case
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

    /// Formats that are ordinary words too: a format only after "as", "in" or "into".
    static let ambiguousFormats: Set<String> = [
        "list", "table", "code", "summary", "letter", "email", "paragraph", "outline", "bullet", "bullets",
        "diagram", "regex", "md",
    ]

    /// Languages that are ordinary words too: a language only when capitalised or after a marker.
    static let ambiguousLanguages: Set<String> = ["go", "c", "r", "swift", "rust", "scheme", "shell", "assembly", "latin"]
    static let languageMarkers: Set<String> = ["in", "with", "using", "for"]
}

import Foundation
