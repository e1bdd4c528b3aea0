/// Minimal SSE framing for stored streams: events are separated by a blank line; each has
/// optional `event:` and one or more `data:` lines.
struct ServerSentEvent: Equatable {
    var event: String?
    var data: String

    static func parse(_ body: ByteBuffer) -> [ServerSentEvent] {
        let text = String(buffer: body).replacingOccurrences(of: "\r\n", with: "\n")
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

    /// One `data:` event whose payload is `json`, encoded straight into `out`.
    static func write(json: JSONValue, into out: inout ByteBuffer) {
        out.writeStaticString("data: ")
        json.encode(into: &out)
        out.writeStaticString("\n\n")
    }
}

import Foundation
import NIOCore
