import Foundation

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
}
