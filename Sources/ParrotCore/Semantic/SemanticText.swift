/// The text a request is embedded by, extracted deterministically: each message as
/// `role: text` on its own line (text parts of multi-part content only; images and audio are
/// skipped), tool calls as `role: tool_call name(arguments)`; `prompt` for completions and
/// `instructions` + `input` for responses.
enum SemanticText {
    static func extract(endpoint: Endpoint, body: JSONValue) -> String? {
        var lines: [String] = []
        switch endpoint {
        case .chatCompletions:
            for message in body["messages"]?.arrayValue ?? [] {
                append(message, to: &lines)
            }
        case .completions:
            if let prompt = body["prompt"]?.stringValue { lines.append(prompt) }
            for item in body["prompt"]?.arrayValue ?? [] { if let s = item.stringValue { lines.append(s) } }
        case .responses:
            if let instructions = body["instructions"]?.stringValue { lines.append("system: \(instructions)") }
            if let input = body["input"]?.stringValue {
                lines.append("user: \(input)")
            } else {
                for item in body["input"]?.arrayValue ?? [] { append(item, to: &lines) }
            }
        case .embeddings:
            return nil
        }
        let text = lines.joined(separator: "\n")
        return text.isEmpty ? nil : text
    }

    private static func append(_ message: JSONValue, to lines: inout [String]) {
        let role = message["role"]?.stringValue ?? "user"
        if let content = message["content"]?.stringValue {
            lines.append("\(role): \(content)")
        } else if let parts = message["content"]?.arrayValue {
            let texts = parts.compactMap { part -> String? in
                let type = part["type"]?.stringValue ?? ""
                guard type == "text" || type == "input_text" || type == "output_text" else { return nil }
                return part["text"]?.stringValue
            }
            if !texts.isEmpty { lines.append("\(role): \(texts.joined(separator: " "))") }
        }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            let name = call["function"]?["name"]?.stringValue ?? ""
            let arguments = call["function"]?["arguments"]?.stringValue ?? ""
            lines.append("\(role): tool_call \(name)(\(arguments))")
        }
    }

    /// The request without the fields the text came from: what must be equal for two requests
    /// to share a semantic scope.
    static func scopeBody(endpoint: Endpoint, body: JSONValue) -> JSONValue {
        switch endpoint {
        case .chatCompletions: body.removing(["messages"])
        case .completions: body.removing(["prompt"])
        case .responses: body.removing(["input", "instructions"])
        case .embeddings: body
        }
    }
}
