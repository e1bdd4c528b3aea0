import Foundation

/// The `Date` header value (RFC 9110 IMF-fixdate), formatted once per second per owner. Each
/// connection's fast path keeps its own, so nothing is shared between event loops.
struct HTTPDate {
    private var second = -1
    private var text = ""

    mutating func current() -> String {
        var now = time(nil)
        let s = Int(now)
        if s != second {
            var parts = tm()
            gmtime_r(&now, &parts)
            text = Self.format(parts)
            second = s
        }
        return text
    }

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ t: tm) -> String {
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(t.tm_wday)]), \(two(t.tm_mday)) \(months[Int(t.tm_mon)]) \(t.tm_year + 1900) "
            + "\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) GMT"
    }
}
