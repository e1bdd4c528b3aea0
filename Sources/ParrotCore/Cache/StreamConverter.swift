import NIOCore

/// Converts stored answers between a plain JSON completion and its SSE stream form, for
/// `/v1/chat/completions` and `/v1/completions` only: same choices, content, tool calls,
/// finish reasons, logprobs and usage, so either mode can be served from one entry. A stream
/// without `usage` does not become JSON (the real API always sends `usage` on a JSON answer,
/// and cost tracking downstream reads it).
public enum StreamConverter {
    /// A stored JSON completion rendered as the SSE chunks the upstream would have streamed.
    public static func sse(fromJSON body: ByteBuffer, endpoint: Endpoint, includeUsage: Bool) -> ByteBuffer? {
        guard let json = try? JSONParser.parse(body.readableBytesView), let choices = json["choices"]?.arrayValue else { return nil }
        var common: [(String, JSONValue)] = [("id", json["id"] ?? .string("")), ("object", .string(endpoint == .chatCompletions ? "chat.completion.chunk" : "text_completion"))]
        common.append(("created", json["created"] ?? .int(0)))
        common.append(("model", json["model"] ?? .string("")))
        if let fingerprint = json["system_fingerprint"] { common.append(("system_fingerprint", fingerprint)) }
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes * 2)
        func emit(_ choices: [JSONValue], usage: JSONValue? = nil) {
            var chunk = common
            chunk.append(("choices", .array(choices)))
            if let usage { chunk.append(("usage", usage)) }
            ServerSentEvent.write(json: .object(chunk), into: &out)
        }
        for (i, choice) in choices.enumerated() {
            let index = choice["index"] ?? .int(i)
            if endpoint == .chatCompletions {
                let message = choice["message"] ?? .object([])
                var delta: [(String, JSONValue)] = [("role", message["role"] ?? .string("assistant"))]
                if let content = message["content"], content != .null { delta.append(("content", content)) }
                if let refusal = message["refusal"], refusal != .null { delta.append(("refusal", refusal)) }
                if let calls = message["tool_calls"]?.arrayValue {
                    delta.append(("tool_calls", .array(calls.enumerated().map { j, call in
                        var c = call
                        c.set("index", .int(j))
                        return c
                    })))
                }
                emit([.object([("index", index), ("delta", .object(delta)), ("logprobs", choice["logprobs"] ?? .null), ("finish_reason", .null)])])
                emit([.object([("index", index), ("delta", .object([])), ("logprobs", .null), ("finish_reason", choice["finish_reason"] ?? .null)])])
            } else {
                emit([.object([("text", choice["text"] ?? .string("")), ("index", index), ("logprobs", choice["logprobs"] ?? .null), ("finish_reason", .null)])])
                emit([.object([("text", .string("")), ("index", index), ("logprobs", .null), ("finish_reason", choice["finish_reason"] ?? .null)])])
            }
        }
        if includeUsage, let usage = json["usage"] { emit([], usage: usage) }
        out.writeStaticString("data: [DONE]\n\n")
        return out
    }

    /// A stored stream assembled into the one JSON completion the upstream would have returned.
    public static func json(fromSSE body: ByteBuffer, endpoint: Endpoint) -> ByteBuffer? {
        struct ToolCall { var id: JSONValue = .null; var type: JSONValue = .string("function"); var name = ""; var arguments = "" }
        struct Choice {
            var role = "assistant"; var content: String?; var refusal: String?; var finish: JSONValue = .null; var tools: [Int: ToolCall] = [:]
            /// Each logprobs array (chat: `content`, `refusal`; completions: `tokens`,
            /// `token_logprobs`, `top_logprobs`, `text_offset`) concatenated across chunks, in
            /// the order first seen; nil when no chunk carried logprobs.
            var logprobs: [(String, [JSONValue]?)]?

            mutating func append(logprobs value: JSONValue?) {
                guard let value, case .object(let members) = value else { return }
                var merged = logprobs ?? []
                for (name, member) in members {
                    let index = merged.firstIndex { $0.0 == name } ?? { merged.append((name, nil)); return merged.count - 1 }()
                    if let items = member.arrayValue { merged[index].1 = (merged[index].1 ?? []) + items }
                }
                logprobs = merged
            }

            var renderedLogprobs: JSONValue {
                guard let logprobs else { return .null }
                return .object(logprobs.map { ($0.0, $0.1.map(JSONValue.array) ?? .null) })
            }
        }
        var choices: [Int: Choice] = [:]
        var first: JSONValue?
        var usage: JSONValue?
        for event in ServerSentEvent.parse(body) where event.data != "[DONE]" {
            guard let chunk = try? JSONParser.parse(event.data.utf8) else { return nil }
            if first == nil { first = chunk }
            if let u = chunk["usage"], u != .null { usage = u }
            for item in chunk["choices"]?.arrayValue ?? [] {
                let index = item["index"]?.intValue ?? 0
                var choice = choices[index] ?? Choice()
                if let finish = item["finish_reason"], finish != .null { choice.finish = finish }
                choice.append(logprobs: item["logprobs"])
                if endpoint == .chatCompletions {
                    let delta = item["delta"] ?? .object([])
                    if let role = delta["role"]?.stringValue { choice.role = role }
                    if let text = delta["content"]?.stringValue { choice.content = (choice.content ?? "") + text }
                    if let text = delta["refusal"]?.stringValue { choice.refusal = (choice.refusal ?? "") + text }
                    for call in delta["tool_calls"]?.arrayValue ?? [] {
                        let j = call["index"]?.intValue ?? 0
                        var tool = choice.tools[j] ?? ToolCall()
                        if let id = call["id"], id != .null { tool.id = id }
                        if let type = call["type"], type != .null { tool.type = type }
                        tool.name += call["function"]?["name"]?.stringValue ?? ""
                        tool.arguments += call["function"]?["arguments"]?.stringValue ?? ""
                        choice.tools[j] = tool
                    }
                } else if let text = item["text"]?.stringValue {
                    choice.content = (choice.content ?? "") + text
                }
                choices[index] = choice
            }
        }
        guard let first, let usage else { return nil }
        var out: [(String, JSONValue)] = [
            ("id", first["id"] ?? .string("")),
            ("object", .string(endpoint == .chatCompletions ? "chat.completion" : "text_completion")),
            ("created", first["created"] ?? .int(0)),
            ("model", first["model"] ?? .string("")),
        ]
        let rendered: [JSONValue] = choices.keys.sorted().map { index in
            let c = choices[index]!
            if endpoint == .chatCompletions {
                var message: [(String, JSONValue)] = [("role", .string(c.role)), ("content", c.content.map(JSONValue.string) ?? .null), ("refusal", c.refusal.map(JSONValue.string) ?? .null)]
                if !c.tools.isEmpty {
                    message.append(("tool_calls", .array(c.tools.keys.sorted().map { j in
                        let t = c.tools[j]!
                        return .object([("id", t.id), ("type", t.type), ("function", .object([("name", .string(t.name)), ("arguments", .string(t.arguments))]))])
                    })))
                }
                return .object([("index", .int(index)), ("message", .object(message)), ("logprobs", c.renderedLogprobs), ("finish_reason", c.finish)])
            }
            return .object([("text", .string(c.content ?? "")), ("index", .int(index)), ("logprobs", c.renderedLogprobs), ("finish_reason", c.finish)])
        }
        out.append(("choices", .array(rendered)))
        out.append(("usage", usage))
        if let fingerprint = first["system_fingerprint"] { out.append(("system_fingerprint", fingerprint)) }
        return JSONValue.object(out).byteBuffer
    }
}
