import Foundation

/// How the CLI shows numbers to people: money with enough digits to see a cache's savings
/// (`$0.000046`), sizes in binary units, durations in words, one compression precision.
enum Format {
    /// `$0.000046`, `$1.25`: two decimals from a dollar up, else six with trailing zeros
    /// dropped down to two.
    static func money(_ usd: Double) -> String {
        guard usd.isFinite else { return "-" }
        if abs(usd) >= 1 { return "$" + String(format: "%.2f", usd) }
        var text = String(format: "%.6f", usd)
        while text.hasSuffix("0"), let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > 3 {
            text.removeLast()
        }
        return "$" + text
    }

    /// `512 B`, `4.0 KiB`, `12.3 MiB`, `1.00 GiB`.
    static func bytes(_ n: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard n >= 1024 else { return "\(n) B" }
        var value = Double(n)
        var unit = "B"
        for next in units where value >= 1024 {
            value /= 1024
            unit = next
        }
        return String(format: value < 10 ? "%.2f" : value < 100 ? "%.1f" : "%.0f", value) + " " + unit
    }

    /// `42s`, `3m 40s`, `2h 05m`, `3d 4h`.
    static func duration(seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h " + String(format: "%02dm", (s % 3600) / 60) }
        return "\(s / 86400)d \((s % 86400) / 3600)h"
    }

    /// `3.47×`: the one precision for compression ratios everywhere in the CLI.
    static func ratio(_ r: Double) -> String {
        String(format: "%.2f×", r)
    }

    /// `62.5 %`.
    static func percent(_ fraction: Double) -> String {
        String(format: "%.1f %%", fraction * 100)
    }

    /// Label–value rows, both left-aligned.
    static func leftTable(_ rows: [[String]], indent: String = "  ") -> [String] {
        let width = rows.map { $0.first?.count ?? 0 }.max() ?? 0
        return rows.map { row in
            indent + (row.first ?? "").padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.dropFirst().joined(separator: "  ")
        }
    }

    /// Rows of cells as aligned columns: the first left-aligned, the rest right-aligned.
    static func table(_ rows: [[String]], indent: String = "  ") -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return rows.map { row in
            indent + row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces
        }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
