import Foundation
import Logging

/// `log.format = "text"`: `2026-11-23T10:00:00.123Z info parrot: message key=value …`, one line
/// per event, written through the batching `LogSink`.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let sink: LogSink

    public init(label: String, sink: LogSink = .standardError) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = LogTimestamp.now()
        line += " \(event.level) \(label): "
        Self.appendEscaped("\(event.message)", to: &line)
        let merged = metadata.isEmpty ? (event.metadata ?? [:]) : metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " "
            Self.appendEscaped(key, to: &line)
            line += "="
            Self.appendEscaped(value.description, to: &line)
        }
        sink.write(line, urgent: event.level >= .warning)
    }

    /// Appends `text` with control characters written as escapes (`\n`, `\r`, `\t`, `\u{1b}`),
    /// so a value a client chose (a model name, a path) can never start a new log line or move
    /// a terminal's cursor. Text without control characters is appended as it is.
    static func appendEscaped(_ text: String, to line: inout String) {
        // Bytes that start no control character (C1 controls begin with 0xC2, U+2028/9 with 0xE2).
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }),
              text.unicodeScalars.contains(where: isControl)
        else {
            line += text
            return
        }
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else {
                line.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            default: line += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}

/// RFC 3339 UTC timestamps with milliseconds, without a formatter object per line.
enum LogTimestamp {
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(ts.tv_nsec) / 1_000_000
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
