/// An answer body before the wire: plain JSON or the events of a stream.
enum MockRendered {
    case json(String)
    /// SSE events, each complete with its framing; `firstContent` is the index of the first
    /// content-carrying event, where `x-mock-cut-after` starts counting.
    case events([String], firstContent: Int)
}

/// Renders OpenAI-shaped answers as text. Field order and spelling follow what the real API
/// sends, so the proxy's parsers, stream converters and byte-identical replay are tested
/// against realistic bytes.
enum MockAnswers {
    static let toolArguments = #"{"city":"Paris"}"#

    static func usageJSON(prompt: Int, completion: Int) -> String {
        #"{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)}"#
    }

    static func dataEvent(_ json: String) -> String {
        "data: " + json + "\n\n"
    }

    static let doneEvent = "data: [DONE]\n\n"

    /// The `logprobs` member of a chat choice for these content pieces: one token per piece, with
    /// a log probability derived from its position so a test can tell the pieces apart.
    static func logprobsJSON(_ pieces: [Substring], from first: Int = 0) -> String {
        let tokens = pieces.enumerated().map { i, piece in
            let bytes = Array(piece.utf8).map(String.init).joined(separator: ",")
            let logprob = -Double(first + i + 1) / 64
            return #"{"token":\#(String.jsonString(String(piece))),"logprob":\#(logprob),"bytes":[\#(bytes)],"top_logprobs":[]}"#
        }
        return #"{"content":[\#(tokens.joined(separator: ","))],"refusal":null}"#
    }

    // MARK: chat completions

    static func chat(_ prompt: MockPrompt, content: String, number: Int, created: Int, chunkCount: Int) -> MockRendered {
        let completionText = prompt.toolName == nil ? content : toolArguments
        let usage = usageJSON(prompt: prompt.promptTokens, completion: MockContent.tokens(characters: completionText.count))
        let head =
            #"{"id":"chatcmpl-\#(number)","object":"\#(prompt.stream ? "chat.completion.chunk" : "chat.completion")","created":\#(created),"model":\#(String.jsonString(prompt.model)),"system_fingerprint":"fp_mock","choices":"#
        guard prompt.stream else {
            var json = head
            json.reserveCapacity(head.utf8.count + content.utf8.count + 256)
            if let toolName = prompt.toolName {
                json += #"[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"#
                json.appendJSONString(toolName)
                json += #","arguments":"#
                json.appendJSONString(toolArguments)
                json += #"}}],"refusal":null},"logprobs":null,"finish_reason":"tool_calls"}],"usage":"#
            } else {
                json += #"[{"index":0,"message":{"role":"assistant","content":"#
                json.appendJSONString(content)
                json += #","refusal":null},"logprobs":"#
                json += prompt.logprobs ? logprobsJSON(MockContent.pieces(of: content, count: chunkCount)) : "null"
                json += #","finish_reason":"stop"}],"usage":"#
            }
            return .json(json + usage + "}")
        }

        let chunkHead = head + #"[{"index":0,"delta":"#
        let usageNull = prompt.includeUsage ? #","usage":null"# : ""
        let openTail = #","logprobs":null,"finish_reason":null}]"# + usageNull + "}"
        var events: [String] = []
        events.reserveCapacity(chunkCount + 4)
        let finishReason: String
        if let toolName = prompt.toolName {
            events.append(
                dataEvent(
                    chunkHead + #"{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":\#(String.jsonString(toolName)),"arguments":""}}]}"#
                        + openTail))
            for piece in MockContent.pieces(of: toolArguments, count: chunkCount) {
                events.append(
                    dataEvent(
                        chunkHead + #"{"tool_calls":[{"index":0,"function":{"arguments":\#(String.jsonString(String(piece)))}}]}"# + openTail))
            }
            finishReason = "tool_calls"
        } else {
            events.append(dataEvent(chunkHead + #"{"role":"assistant","content":""}"# + openTail))
            for (i, piece) in MockContent.pieces(of: content, count: chunkCount).enumerated() {
                let tail = prompt.logprobs ? #","logprobs":"# + logprobsJSON([piece], from: i) + #","finish_reason":null}]"# + usageNull + "}" : openTail
                events.append(dataEvent(chunkHead + #"{"content":\#(String.jsonString(String(piece)))}"# + tail))
            }
            finishReason = "stop"
        }
        events.append(dataEvent(chunkHead + #"{},"logprobs":null,"finish_reason":"\#(finishReason)"}]"# + usageNull + "}"))
        if prompt.includeUsage {
            events.append(dataEvent(head + #"[],"usage":"# + usage + "}"))
        }
        events.append(doneEvent)
        return .events(events, firstContent: 1)
    }

    // MARK: legacy completions

    static func completion(_ prompt: MockPrompt, content: String, number: Int, created: Int, chunkCount: Int) -> MockRendered {
        let usage = usageJSON(prompt: prompt.promptTokens, completion: MockContent.tokens(characters: content.count))
        let head =
            #"{"id":"cmpl-\#(number)","object":"text_completion","created":\#(created),"model":\#(String.jsonString(prompt.model)),"system_fingerprint":"fp_mock","choices":"#
        guard prompt.stream else {
            var json = head
            json.reserveCapacity(head.utf8.count + content.utf8.count + 200)
            json += #"[{"text":"#
            json.appendJSONString(content)
            json += #","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":"# + usage + "}"
            return .json(json)
        }
        let usageNull = prompt.includeUsage ? #","usage":null"# : ""
        var events: [String] = []
        events.reserveCapacity(chunkCount + 3)
        for piece in MockContent.pieces(of: content, count: chunkCount) {
            events.append(
                dataEvent(
                    head + #"[{"text":\#(String.jsonString(String(piece))),"index":0,"logprobs":null,"finish_reason":null}]"# + usageNull + "}"))
        }
        events.append(dataEvent(head + #"[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]"# + usageNull + "}"))
        if prompt.includeUsage {
            events.append(dataEvent(head + #"[],"usage":"# + usage + "}"))
        }
        events.append(doneEvent)
        return .events(events, firstContent: 0)
    }
}
