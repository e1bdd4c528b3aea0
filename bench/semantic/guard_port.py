"""A line-by-line Python port of Sources/ParrotCore/Semantic/SemanticGuard.swift, for diagnosis only.

The harness measures Parrot's real behaviour over HTTP; this port only explains *why* the guard
refused a pair ("directions differ: to") and simulates other thresholds. quality.py checks that
the port agrees with Parrot on every pair at the configured threshold and reports any
disagreement, so a drift between this file and the Swift source shows up in results.md.
"""
from __future__ import annotations

NEGATIONS = {
    "not", "no", "never", "none", "nor", "nothing", "nobody", "nowhere", "without", "neither",
    "cannot", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt",
    "cant", "couldnt", "shouldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt", "except", "excluding", "unless",
}

DIRECTIONS = {
    "to", "from", "into", "before", "after", "above", "below", "over", "under", "up", "down",
    "left", "right", "increase", "decrease", "increasing", "decreasing", "more", "less", "fewer",
    "higher", "lower", "larger", "smaller", "bigger", "longer", "shorter", "faster", "slower",
    "min", "max", "minimum", "maximum", "first", "last", "ascending", "descending", "asc", "desc",
    "earlier", "later", "past", "future", "north", "south", "east", "west", "inside", "outside",
    "encode", "decode", "encrypt", "decrypt", "compress", "decompress", "import", "export",
    "add", "remove", "subtract", "multiply", "divide", "buy", "sell", "send", "receive",
    "best", "worst", "most", "least", "pros", "cons", "advantages", "disadvantages", "true", "false",
    "yes", "always", "sometimes", "all", "any", "some", "every", "each", "only", "plural", "singular",
}

LANGUAGES_AND_FORMATS = {
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
}

EDGE_PUNCTUATION = set(".,;:!?\"'()[]{}<>«»“”‘’`*_")


def _is_number(ch: str) -> bool:
    return ch.isnumeric()


def tokens(text: str) -> list[str]:
    out: list[str] = []
    current = ""
    for ch in text:
        if ch.isspace():
            if current:
                out.append(current)
                current = ""
            if ch == "\n":
                out.append("\n")
        elif current and _is_number(ch) != _is_number(current[-1]) \
                and not (current[-1] in ".," or ch in ".,") \
                and not (_is_number(current[-1]) and ch.isalpha() and all(_is_number(c) or c in ".," for c in current)):
            out.append(current)
            current = ch
        else:
            current += ch
    if current:
        out.append(current)
    return out


def _canonical_number(value: float) -> str:
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 9_007_199_254_740_992:
        return str(int(value))
    return repr(value)


def normalize_number(token: str) -> str:
    digits, unit = "", ""
    for ch in token:
        if not unit and (_is_number(ch) or ch in ".-"):
            digits += ch
        elif ch != ",":
            unit += ch
    try:
        digits = _canonical_number(float(digits)) if digits and all(c.isdigit() or c in ".-" for c in digits) else digits
    except ValueError:
        pass
    return digits + unit


def features(text: str) -> dict:
    numbers: list[str] = []
    negations = 0
    directions: dict[str, int] = {}
    languages: list[str] = []
    names: list[str] = []
    previous_ends_sentence = True
    for raw in tokens(text):
        word = raw.strip("".join(EDGE_PUNCTUATION))
        ends_sentence = bool(raw) and raw[-1] in ".!?:\n"
        try:
            if not word:
                continue
            lower = word.lower()
            folded = lower.replace("'", "").replace("’", "")
            if _is_number(word[0]) or (word[0] == "-" and len(word) > 1 and _is_number(word[1])) or word[0] == "$":
                numbers.append(normalize_number(lower))
                continue
            if folded in NEGATIONS:
                negations += 1
                continue
            if lower in DIRECTIONS:
                directions[lower] = directions.get(lower, 0) + 1
            if lower in LANGUAGES_AND_FORMATS:
                languages.append(lower)
            if word[0].isupper() and (not previous_ends_sentence or (len(word) > 1 and any(c.isupper() for c in word[1:]))):
                names.append(lower)
        finally:
            previous_ends_sentence = ends_sentence or not raw
    return {"numbers": numbers, "negations": negations, "directions": directions, "languages": languages, "names": names}


def compatible(a: str, b: str) -> bool:
    return features(a) == features(b)


def differences(a: str, b: str) -> list[str]:
    """Human-readable reasons the guard refuses a pair; empty when it accepts."""
    fa, fb = features(a), features(b)
    out = []
    for key in ("numbers", "negations", "languages", "names"):
        if fa[key] != fb[key]:
            out.append(f"{key} {fa[key]} vs {fb[key]}")
    if fa["directions"] != fb["directions"]:
        words = sorted(set(fa["directions"]) | set(fb["directions"]))
        diff = [w for w in words if fa["directions"].get(w, 0) != fb["directions"].get(w, 0)]
        out.append("directions " + ", ".join(f"{w} {fa['directions'].get(w, 0)}≠{fb['directions'].get(w, 0)}" for w in diff))
    return out


# ---------------------------------------------------------------------------------------------
# PROPOSAL — not what Parrot does. A sketch of guard changes suggested by this harness's
# results, simulated here so their effect can be measured before anyone touches the Swift.
# Each rule is named in the reasons it returns. Tuned while looking at pairs.jsonl: its numbers
# are in-sample and optimistic; confirm on new pairs before adopting.
# ---------------------------------------------------------------------------------------------
import difflib
import re

STOPWORDS = {
    "a", "an", "the", "of", "in", "on", "at", "for", "with", "by", "and", "or", "is", "are", "was", "were", "be",
    "do", "does", "did", "can", "could", "should", "would", "will", "i", "im", "ive", "id", "ill", "me", "my", "you",
    "your", "we", "our", "it", "its", "this", "that", "these", "those", "what", "whats", "which", "who", "how", "why",
    "when", "where", "there", "here", "please", "some", "any", "way", "ways", "to", "from", "into", "onto", "than",
    "vs", "versus", "about", "as", "if", "whether", "so", "just", "like", "between", "give", "tell", "explain",
    "show", "help", "write", "create", "draft", "compose", "make", "get", "tips", "steps", "best", "good", "one",
}
# Words that may replace each other in a paraphrase without changing the question.
NEUTRAL = {"write", "create", "draft", "compose", "make", "give", "suggest", "recommend", "explain", "describe",
           "tell", "show", "list", "what", "how", "which", "best", "good", "way", "steps", "tips", "ideas",
           "short", "brief", "quick", "main", "key", "big", "large"}
# Members of a group are alternatives: one text using one member and the other a different one,
# each absent from the other text, is a different question.
OPPOSITES = [
    {"increase", "decrease"}, {"increasing", "decreasing"}, {"ascending", "descending"}, {"asc", "desc"},
    {"encode", "decode"}, {"encrypt", "decrypt"}, {"compress", "decompress"}, {"import", "export"},
    {"add", "remove", "delete"}, {"buy", "sell"}, {"send", "receive"}, {"upload", "download"}, {"push", "pull"},
    {"read", "write"}, {"before", "after"}, {"above", "below"}, {"left", "right"}, {"min", "max"},
    {"minimum", "maximum"}, {"first", "last"}, {"best", "worst"}, {"most", "least"}, {"more", "less", "fewer"},
    {"higher", "lower"}, {"highest", "lowest"}, {"larger", "smaller"}, {"bigger", "smaller"}, {"longer", "shorter"},
    {"faster", "slower"}, {"earlier", "later"}, {"north", "south"}, {"east", "west"}, {"inside", "outside"},
    {"true", "false"}, {"pros", "cons"}, {"advantages", "disadvantages"}, {"plural", "singular"},
    {"always", "never", "sometimes"}, {"clockwise", "counterclockwise", "anticlockwise"},
    {"safe", "unsafe", "dangerous"}, {"succeed", "fail"}, {"succeeded", "failed"}, {"success", "failure"},
    {"pass", "fail"}, {"win", "lose"}, {"enable", "disable"}, {"start", "stop"}, {"open", "close"},
    {"input", "output"}, {"hot", "cold"}, {"high", "low"}, {"rise", "fall"}, {"cheap", "expensive"},
    {"today", "tomorrow", "yesterday", "tonight", "this", "next", "last", "previous"},
    {"simple", "detailed", "technical", "advanced"}, {"sentence", "paragraph", "paragraphs", "detailed"},
    {"with", "without"},
]
NEGATION_PREFIXES = ("un", "non", "in", "im", "ir", "il", "dis", "counter", "anti", "de")
EXTRA_NEGATIONS = {"lack", "lacks", "lacking", "avoid", "avoiding", "unable", "missing"}
SPELLED = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
           "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
           "thousand": 1000, "million": 1000000, "dozen": 12}
RELATIONAL = ("to", "from", "into", "onto", "than", "when", "vs", "versus")
PRONOUN_I = {"i", "i'm", "i've", "i'd", "i'll", "i’m", "i’ve", "i’d", "i’ll"}
POETIC_FORMS = {"haiku", "poem", "sonnet", "limerick", "essay", "tweet"}
AMBIGUOUS_FORMS = {"list", "table", "code", "summary", "letter", "email", "paragraph", "outline", "bullet", "bullets",
                   "diagram", "regex", "md"}
AMBIGUOUS_LANGUAGES = {"go", "c", "r", "swift", "rust", "scheme", "shell", "assembly", "latin"}


def _words(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[A-Za-z0-9#+'’.%°$-]+", text):
        w = w.strip(".'’-").lower()
        w = re.sub(r"['’]s$", "", w)  # possessive: Australia's → australia
        if w:
            out.append(w)
    return out


def _content(text: str) -> list[str]:
    return [w.replace("'", "").replace("’", "") for w in _words(text)
            if w.replace("'", "").replace("’", "") not in STOPWORDS and w not in ("user:", "user")]


def _numbers(text: str) -> list[str]:
    words = _words(text)
    out = []
    for i, w in enumerate(words):
        value = None
        m = re.match(r"^\$?(-?[0-9][0-9,]*(?:\.[0-9]+)?)(.*)$", w)
        if m:
            value, unit = m.group(1).replace(",", ""), m.group(2)
        elif w in SPELLED and w != "one":  # "one" is too often a pronoun or "one line at a time"
            value, unit = str(SPELLED[w]), "-"
        if value is None:
            continue
        if not unit and i + 1 < len(words) and words[i + 1] not in STOPWORDS:
            unit = words[i + 1]  # "5 km" vs "5 miles": the unit is the next word
        unit = {"%": "percent", "°c": "celsius", "°f": "fahrenheit"}.get(unit, unit)
        value = value.rstrip("0").rstrip(".") if "." in value else value
        out.append(value if unit == "-" else value + ":" + unit.rstrip("s"))
    return sorted(out)


def _names(text: str) -> set[str]:
    base = features(text)["names"]
    return {re.sub(r"['’]s$", "", n) for n in base if n not in PRONOUN_I}


def _languages(text: str) -> set[str]:
    words = _words(text)
    raw = {t.strip("".join(EDGE_PUNCTUATION)) for t in text.split()}
    out = set()
    for i, w in enumerate(words):
        if w not in LANGUAGES_AND_FORMATS:
            continue
        before = words[i - 1] if i else ""
        if w in AMBIGUOUS_FORMS and not (set(words[max(0, i - 3):i]) & {"as", "in", "into"}):
            continue  # "reverse a list", "List the planets" are not a format asked for
        if w in AMBIGUOUS_LANGUAGES and before not in ("in", "with", "using", "for") and w.capitalize() not in raw:
            continue  # "go" the verb, "c" the letter
        out.add(w)
    return out


def proposed_differences(a: str, b: str, strict: bool = False) -> list[str]:
    """strict adds the one-slot rule: precise on template near-misses ("cats" → "dogs") but it
    also refuses paraphrases that swap one word for a synonym ("wrote" → "author")."""
    out = []
    fa, fb = features(a), features(b)
    if _numbers(a) != _numbers(b):
        out.append(f"numbers+units {_numbers(a)} vs {_numbers(b)}")
    neg_a = fa["negations"] + sum(1 for w in _words(a) if w in EXTRA_NEGATIONS)
    neg_b = fb["negations"] + sum(1 for w in _words(b) if w in EXTRA_NEGATIONS)
    if neg_a != neg_b:
        out.append(f"negations {neg_a} vs {neg_b}")
    if _languages(a) != _languages(b):
        out.append(f"languages/formats {sorted(_languages(a))} vs {sorted(_languages(b))}")
    # Names: every capitalised name of one text must occur, in any case, in the other.
    wa, wb = set(_words(a)), set(_words(b))
    missing = sorted((_names(a) - wb) | (_names(b) - wa))
    if missing:
        out.append(f"names not in the other text {missing}")
    # Opposites and prefix negation (safe/unsafe, tracked/untracked).
    for group in OPPOSITES:
        only_a, only_b = (wa - wb) & group, (wb - wa) & group
        if only_a and only_b:
            out.append(f"opposites {sorted(only_a)} vs {sorted(only_b)}")
    for x in wa - wb:
        for y in wb - wa:
            for p in NEGATION_PREFIXES:
                if len(x) > 3 and len(y) > 3 and (x == p + y or y == p + x):
                    out.append(f"prefix negation {x} vs {y}")
    # Swapped arguments: what follows to/from/when/than in one text follows it in the other.
    ca, cb = _relational_objects(a), _relational_objects(b)
    for r in RELATIONAL:
        for oa, ob in zip(ca.get(r, []), cb.get(r, [])):
            if oa != ob and oa in wb and ob in wa:
                out.append(f"swapped around '{r}': {oa} vs {ob}")
    if not strict:
        return out
    # Same template, one slot changed: the slot is what the question is about.
    sa, sb = _content(a), _content(b)
    ops = [op for op in difflib.SequenceMatcher(a=sa, b=sb, autojunk=False).get_opcodes() if op[0] != "equal"]
    equal = sum(i2 - i1 for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=sa, b=sb, autojunk=False).get_opcodes() if tag == "equal")
    if len(ops) == 1 and ops[0][0] == "replace" and equal >= 2:
        _, i1, i2, j1, j2 = ops[0]
        old, new = sa[i1:i2], sb[j1:j2]
        if len(old) <= 2 and len(new) <= 2 and not (set(old) | set(new)) <= NEUTRAL:
            out.append(f"one slot changed {old} → {new}")
    return out


def _relational_objects(text: str) -> dict[str, list[str]]:
    words = _words(text)
    out: dict[str, list[str]] = {}
    for i, w in enumerate(words):
        if w in RELATIONAL:
            nxt = next((x for x in words[i + 1:] if x not in STOPWORDS), None)
            if nxt:
                out.setdefault(w, []).append(nxt)
    return out


def proposed_compatible(a: str, b: str, strict: bool = False) -> bool:
    return not proposed_differences(a, b, strict)
