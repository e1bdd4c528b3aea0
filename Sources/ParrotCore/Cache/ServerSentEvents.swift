/// Minimal SSE framing for stored streams: events are separated by a blank line; each has
/// optional `event:` and one or more `data:` lines.
struct ServerSentEvent: Equatable {
    var event: String?
    var data: String

    static func parse(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        let text = String(decoding: Array(bytes), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var events: [ServerSentEvent] = []
        for block in text.components(separatedBy: "\n\n") {
            var event: String? = nil
            var data: [String] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("data:") {
                    data.append(String(line.dropFirst(5).drop(while: { $0 == " " })))
                } else if line.hasPrefix("event:") {
                    event = String(line.dropFirst(6).drop(while: { $0 == " " }))
                }
            }
            if event != nil || !data.isEmpty { events.append(ServerSentEvent(event: event, data: data.joined(separator: "\n"))) }
        }
        return events
    }

    static func render(_ events: [ServerSentEvent]) -> [UInt8] {
        var out: [UInt8] = []
        for e in events {
            if let event = e.event { out.append(contentsOf: "event: \(event)\n".utf8) }
            out.append(contentsOf: "data: \(e.data)\n\n".utf8)
        }
        return out
    }
}

import Foundation
