import Foundation

/// The rules of ``SemanticGuard`` that compare the two texts' analyses with each other.
extension SemanticGuard {
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
}
