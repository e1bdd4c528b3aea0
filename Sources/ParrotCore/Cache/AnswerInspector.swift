import NIOCore

/// Decides whether a complete upstream answer may be stored, and reads its token usage.
/// Only answers that are whole and well-formed for their endpoint are cached: a truncated
/// stream or an error object with status 200 is relayed but never replayed.
public enum AnswerInspector {
    public struct Verdict: Equatable {
        public var storable: Bool
        public var reason: String
        public var promptTokens = 0
        public var completionTokens = 0
        /// The answer reports `usage` (a chat stream does only when asked with
        /// `stream_options.include_usage`); a stream without it cannot stand for a JSON answer.
        public var hasUsage = false
    }

    public static func inspect(endpoint: Endpoint, mode: CacheEntry.Mode, body: ByteBuffer) -> Verdict {
        switch mode {
        case .json: return inspectJSON(endpoint: endpoint, body: body)
        case .sse: return inspectStream(endpoint: endpoint, body: body)
        }
    }

    static func inspectJSON(endpoint: Endpoint, body: ByteBuffer) -> Verdict {
        guard let json = try? JSONParser.parse(body.readableBytesView), case .object = json else {
            return Verdict(storable: false, reason: "not a JSON object")
        }
        if let error = json["error"], error != .null { return Verdict(storable: false, reason: "error object") }
        let ok: Bool
        switch endpoint {
        case .chatCompletions, .completions: ok = json["choices"]?.arrayValue != nil
        case .embeddings: ok = json["data"]?.arrayValue != nil
        case .responses: ok = json["output"]?.arrayValue != nil && (json["status"]?.stringValue ?? "completed") == "completed"
        }
        guard ok else { return Verdict(storable: false, reason: "not a complete \(endpoint.rawValue) answer") }
        let (p, c) = usage(json["usage"])
        let hasUsage = json["usage"].map { $0 != .null } ?? false
        return Verdict(storable: true, reason: "ok", promptTokens: p, completionTokens: c, hasUsage: hasUsage)
    }

    static func inspectStream(endpoint: Endpoint, body: ByteBuffer) -> Verdict {
        let events = ServerSentEvent.parse(body)
        var prompt = 0
        var completion = 0
        var hasUsage = false
        switch endpoint {
        case .chatCompletions, .completions:
            guard events.last?.data == "[DONE]" else { return Verdict(storable: false, reason: "stream ended without [DONE]") }
            for event in events.dropLast() {
                guard let json = try? JSONParser.parse(event.data.utf8) else {
                    return Verdict(storable: false, reason: "stream event is not JSON")
                }
                if let error = json["error"], error != .null { return Verdict(storable: false, reason: "error event") }
                if let u = json["usage"], u != .null {
                    (prompt, completion) = usage(u)
                    hasUsage = true
                }
            }
        case .responses:
            guard let done = events.last(where: { $0.event == "response.completed" }),
                  let json = try? JSONParser.parse(done.data.utf8)
            else { return Verdict(storable: false, reason: "stream ended without response.completed") }
            (prompt, completion) = usage(json["response"]?["usage"])
            hasUsage = json["response"]?["usage"].map { $0 != .null } ?? false
        case .embeddings:
            return Verdict(storable: false, reason: "embeddings do not stream")
        }
        return Verdict(storable: true, reason: "ok", promptTokens: prompt, completionTokens: completion, hasUsage: hasUsage)
    }

    static func usage(_ usage: JSONValue?) -> (Int, Int) {
        guard let usage else { return (0, 0) }
        let prompt = usage["prompt_tokens"]?.intValue ?? usage["input_tokens"]?.intValue ?? 0
        let completion = usage["completion_tokens"]?.intValue ?? usage["output_tokens"]?.intValue ?? 0
        return (prompt, completion)
    }
}
