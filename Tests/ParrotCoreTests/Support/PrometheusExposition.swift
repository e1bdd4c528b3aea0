import Foundation

/// A strict reader of the Prometheus text exposition format (0.0.4), checking what
/// `promtool check metrics` checks and Parrot's own conventions: every family declared once with
/// `# TYPE` (and at most one `# HELP`) before its samples, families contiguous, valid names and
/// escaped label values, no duplicate series; counters end in `_total`; histograms have only
/// `_bucket{le}`, `_sum` and `_count`, buckets ascending and cumulative, `+Inf` equal to
/// `_count`; no summaries and no `quantile` labels (durations are histograms).
struct PrometheusExposition {
    struct Family {
        var type: String
        var help: String?
    }

    /// `name{a="1",b="2"}` (labels sorted) → value.
    private(set) var samples: [String: Double] = [:]
    private(set) var families: [String: Family] = [:]

    subscript(_ series: String) -> Double? { samples[series] }

    init(_ text: String) throws {
        var finished: Set<String> = []
        var current: String?
        var histograms: [String: [(le: Double, count: Double)]] = [:]
        var histogramCounts: [String: Double] = [:]
        guard text.hasSuffix("\n") else { throw TestError("the exposition must end with a newline") }
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let line = String(line)
            func fail(_ why: String) -> TestError { TestError("line \(number + 1): \(why): \(line)") }
            if line.isEmpty { throw fail("empty line") }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", ["HELP", "TYPE"].contains(parts[1]) else { throw fail("a comment other than HELP or TYPE") }
                let name = parts[2]
                guard Self.isMetricName(name) else { throw fail("invalid metric name") }
                if current != name {
                    if let current { finished.insert(current) }
                    guard !finished.contains(name) else { throw fail("family \(name) is not contiguous") }
                    current = name
                }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw fail("invalid type") }
                    guard families[name]?.type == nil || families[name]?.type == "" else { throw fail("second TYPE") }
                    guard parts[3] != "summary" else { throw fail("a summary (quantiles); durations must be histograms") }
                    families[name, default: Family(type: "")].type = parts[3]
                } else {
                    guard families[name]?.help == nil else { throw fail("second HELP") }
                    guard families[name]?.type == nil || families[name]?.type == "" else { throw fail("HELP after TYPE") }
                    families[name, default: Family(type: "")].help = parts.count == 4 ? parts[3] : ""
                }
                continue
            }
            let (name, labels, value) = try Self.sample(line, fail: fail)
            let family = [("_bucket"), ("_sum"), ("_count")].compactMap { suffix -> String? in
                guard name.hasSuffix(suffix) else { return nil }
                let base = String(name.dropLast(suffix.count))
                return families[base]?.type == "histogram" ? base : nil
            }.first ?? name
            guard let type = families[family]?.type, !type.isEmpty else { throw fail("sample before its # TYPE") }
            guard family == current else { throw fail("sample outside its family's block") }
            guard !labels.contains(where: { $0.0 == "quantile" }) else { throw fail("a quantile label") }
            switch type {
            case "counter":
                guard name.hasSuffix("_total") else { throw fail("a counter whose name does not end in _total") }
                guard value >= 0 else { throw fail("a negative counter") }
            case "gauge":
                guard !name.hasSuffix("_total") else { throw fail("a gauge named like a counter") }
            case "histogram":
                let others = labels.filter { $0.0 != "le" }
                let series = family + Self.render(others)
                if name.hasSuffix("_bucket") {
                    guard let le = labels.first(where: { $0.0 == "le" })?.1, let bound = Double(le) ?? (le == "+Inf" ? .infinity : nil) else {
                        throw fail("a bucket without a numeric le")
                    }
                    if let last = histograms[series]?.last {
                        guard bound > last.le else { throw fail("buckets not ascending") }
                        guard value >= last.count else { throw fail("buckets not cumulative") }
                    }
                    histograms[series, default: []].append((bound, value))
                } else if name.hasSuffix("_count") {
                    histogramCounts[series] = value
                } else if !name.hasSuffix("_sum") {
                    throw fail("a histogram sample other than _bucket, _sum, _count")
                }
            default:
                break
            }
            let key = name + Self.render(labels)
            guard samples[key] == nil else { throw fail("duplicate series") }
            samples[key] = value
        }
        for (series, buckets) in histograms {
            guard buckets.last?.le == .infinity else { throw TestError("\(series): no +Inf bucket") }
            guard histogramCounts[series] == buckets.last?.count else { throw TestError("\(series): +Inf bucket differs from _count") }
        }
        for (name, family) in families where family.type.isEmpty {
            throw TestError("\(name): HELP without TYPE")
        }
    }

    static func isMetricName(_ name: String) -> Bool {
        name.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*$"#, options: .regularExpression) != nil
    }

    static func render(_ labels: [(String, String)]) -> String {
        labels.isEmpty ? "" : "{" + labels.sorted { $0.0 < $1.0 }.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    /// `name{labels} value` with an optional timestamp; label values may hold escaped `\\`, `\"`, `\n`.
    static func sample(_ line: String, fail: (String) -> TestError) throws -> (String, [(String, String)], Double) {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { throw fail("invalid metric name") }
        rest = rest[nameEnd...]
        var labels: [(String, String)] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let eq = rest.firstIndex(of: "=") else { throw fail("a label without =") }
                let label = String(rest[..<eq])
                guard label.range(of: #"^[a-zA-Z_][a-zA-Z0-9_]*$"#, options: .regularExpression) != nil else { throw fail("invalid label name") }
                guard !labels.contains(where: { $0.0 == label }) else { throw fail("a label twice") }
                rest = rest[rest.index(after: eq)...]
                guard rest.first == "\"" else { throw fail("an unquoted label value") }
                rest = rest.dropFirst()
                var value = ""
                while true {
                    guard let c = rest.first else { throw fail("an unterminated label value") }
                    rest = rest.dropFirst()
                    if c == "\"" { break }
                    if c == "\n" { throw fail("a raw newline in a label value") }
                    if c == "\\" {
                        guard let escaped = rest.first, ["\\", "\"", "n"].contains(escaped) else { throw fail("an invalid escape") }
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(c)
                    }
                }
                labels.append((label, value))
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw fail("labels not separated by a comma") }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw fail("no space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count) else { throw fail("not value [timestamp]") }
        let text = String(fields[0])
        guard let value = Double(text) ?? ["+Inf": .infinity, "-Inf": -.infinity, "NaN": .nan][text] else { throw fail("not a number") }
        if fields.count == 2, Int64(fields[1]) == nil { throw fail("an invalid timestamp") }
        return (name, labels, value)
    }
}
