/// What the mock reads from a generation request (chat, completions, responses): enough to
/// answer deterministically and to estimate usage.
struct MockPrompt {
    var model: String
    var stream: Bool
    var includeUsage: Bool
    /// Total characters of every message or prompt text, for `prompt_tokens`.
    var promptCharacters: Int
    var lastUserText: String
    /// Set when the answer should be a tool call instead of text.
    var toolName: String?
    /// `logprobs: true`: every content piece carries its (deterministic) log probability, as the
    /// real API returns them.
    var logprobs: Bool

    var promptTokens: Int { MockContent.tokens(characters: promptCharacters) }

    static let defaultModel = "gpt-4o-mini"

    private init(body: MockJSON) {
        model = body["model"]?.string ?? Self.defaultModel
        stream = body["stream"]?.bool ?? false
        includeUsage = body["stream_options"]?["include_usage"]?.bool ?? false
        logprobs = body["logprobs"]?.bool ?? false
        promptCharacters = 0
        lastUserText = ""
    }

    /// `/v1/chat/completions`: the last user message is the question; a tool call is answered
    /// when tools are offered, the question mentions the weather and `tool_choice` allows it.
    static func chat(_ body: MockJSON) -> MockPrompt {
        var prompt = MockPrompt(body: body)
        for message in body["messages"]?.array ?? [] {
            let text = Self.text(of: message["content"])
            prompt.promptCharacters += text.count
            if message["role"]?.string == "user" { prompt.lastUserText = text }
        }
        if let firstTool = body["tools"]?.array?.first, body["tool_choice"]?.string != "none",
            prompt.lastUserText.lowercased().contains("weather")
        {
            prompt.toolName = firstTool["function"]?["name"]?.string ?? firstTool["name"]?.string ?? "get_weather"
        }
        return prompt
    }

    /// `/v1/completions`: `prompt` is a string or an array of strings (or token arrays).
    static func completion(_ body: MockJSON) -> MockPrompt {
        var prompt = MockPrompt(body: body)
        let texts: [String]
        switch body["prompt"] {
        case .array(let items)?: texts = items.map { Self.text(of: $0) }
        case let other: texts = [Self.text(of: other)]
        }
        prompt.promptCharacters = texts.reduce(0) { $0 + $1.count }
        prompt.lastUserText = texts.last ?? ""
        return prompt
    }

    /// `/v1/responses`: `input` is a string or a list of items with `role` and `content`;
    /// `instructions` count toward the prompt.
    static func response(_ body: MockJSON) -> MockPrompt {
        var prompt = MockPrompt(body: body)
        prompt.promptCharacters = body["instructions"]?.string?.count ?? 0
        switch body["input"] {
        case .string(let text)?:
            prompt.promptCharacters += text.count
            prompt.lastUserText = text
        case .array(let items)?:
            for item in items {
                let text = Self.text(of: item["content"] ?? item["text"] ?? item["output"])
                prompt.promptCharacters += text.count
                if item["role"]?.string == "user" { prompt.lastUserText = text }
            }
        default:
            break
        }
        return prompt
    }

    /// The text of a content value: a string, an array of parts with `text`, or token ids.
    static func text(of content: MockJSON?) -> String {
        switch content {
        case .string(let text)?:
            return text
        case .array(let parts)?:
            var text = ""
            for part in parts {
                switch part {
                case .string(let piece): text += piece
                case .number(let token): text += text.isEmpty ? "\(Int(token))" : " \(Int(token))"
                default: text += part["text"]?.string ?? ""
                }
            }
            return text
        case .number(let token)?:
            return "\(Int(token))"
        default:
            return ""
        }
    }
}
