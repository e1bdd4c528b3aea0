extension MockAnswers {
    /// `/v1/responses`. Streams carry `event:` lines and end with `response.completed`; unlike
    /// chat there is no `[DONE]`.
    static func response(_ prompt: MockPrompt, content: String, number: Int, created: Int, chunkCount: Int) -> MockRendered {
        let outputTokens = MockContent.tokens(characters: content.count)
        let model = String.jsonString(prompt.model)
        let itemID = "msg_\(number)"
        let text = String.jsonString(content)
        let completedItem =
            #"{"type":"message","id":"\#(itemID)","status":"completed","role":"assistant","content":[{"type":"output_text","text":\#(text),"annotations":[]}]}"#
        let usage =
            #"{"input_tokens":\#(prompt.promptTokens),"input_tokens_details":{"cached_tokens":0},"output_tokens":\#(outputTokens),"output_tokens_details":{"reasoning_tokens":0},"total_tokens":\#(prompt.promptTokens + outputTokens)}"#

        func responseObject(completed: Bool) -> String {
            let status = completed ? "completed" : "in_progress"
            let output = completed ? "[" + completedItem + "]" : "[]"
            return
                #"{"id":"resp_\#(number)","object":"response","created_at":\#(created),"status":"\#(status)","error":null,"incomplete_details":null,"instructions":null,"model":\#(model),"output":\#(output),"parallel_tool_calls":true,"temperature":1.0,"tool_choice":"auto","tools":[],"top_p":1.0,"usage":\#(completed ? usage : "null")}"#
        }

        guard prompt.stream else { return .json(responseObject(completed: true)) }

        var events: [String] = []
        events.reserveCapacity(chunkCount + 3)
        var sequence = 0
        func append(_ type: String, _ fields: String) {
            events.append("event: \(type)\ndata: {\"type\":\"\(type)\",\"sequence_number\":\(sequence),\(fields)}\n\n")
            sequence += 1
        }
        let position = #""item_id":"\#(itemID)","output_index":0,"content_index":0"#
        append("response.created", #""response":"# + responseObject(completed: false))
        for piece in MockContent.pieces(of: content, count: chunkCount) {
            append("response.output_text.delta", position + #","delta":"# + String.jsonString(String(piece)))
        }
        append("response.output_text.done", position + #","text":"# + text)
        append("response.completed", #""response":"# + responseObject(completed: true))
        return .events(events, firstContent: 1)
    }
}
