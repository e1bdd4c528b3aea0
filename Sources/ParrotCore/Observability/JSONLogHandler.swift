import Foundation
import Logging
import Synchronization

/// `log.format = "json"`: one JSON object per line on stderr, with the metadata as fields,
/// for log shippers.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let sink: @Sendable (String, Logger.Level) -> Void

    public init(label: String, sink: @escaping @Sendable (String, Logger.Level) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.sink = sink
    }

    public static let standardError: @Sendable (String, Logger.Level) -> Void = { line, level in
        LogSink.standardError.write(line, urgent: level >= .warning)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var members: [(String, JSONValue)] = [
            ("ts", .string(LogTimestamp.now())),
            ("level", .string(event.level.rawValue)),
            ("logger", .string(label)),
            ("msg", .string(event.message.description)),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            members.append((key, .string(value.description)))
        }
        sink(JSONValue.object(members).jsonString, event.level)
    }
}
