import Foundation

/// The word lists behind ``SemanticGuard``'s rules.
extension SemanticGuard {
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
