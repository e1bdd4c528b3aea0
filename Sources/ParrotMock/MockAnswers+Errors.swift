extension MockAnswers {
    /// An OpenAI-shaped error body, typed by status the way the real API types them.
    static func error(status: Int, message: String? = nil) -> String {
        let type: String
        let code: String?
        let defaultMessage: String
        switch status {
        case 429:
            type = "requests"
            code = "rate_limit_exceeded"
            defaultMessage = "Rate limit reached for requests (mock upstream)."
        case 401:
            type = "invalid_request_error"
            code = "invalid_api_key"
            defaultMessage = "Incorrect API key provided (mock upstream)."
        case 500...:
            type = "server_error"
            code = nil
            defaultMessage = "The server had an error while processing your request (mock upstream status \(status))."
        default:
            type = "invalid_request_error"
            code = nil
            defaultMessage = "Mock upstream error with status \(status)."
        }
        var json = #"{"error":{"message":"#
        json.appendJSONString(message ?? defaultMessage)
        json += #","type":"\#(type)","param":null,"code":"#
        json += code.map { String.jsonString($0) } ?? "null"
        return json + "}}"
    }

    static let models: String = {
        let ids = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small", "text-embedding-3-large"]
        let entries = ids.map { #"{"id":"\#($0)","object":"model","created":1686935002,"owned_by":"openai"}"# }
        return #"{"object":"list","data":["# + entries.joined(separator: ",") + "]}"
    }()

    static func echo(method: String, path: String, query: String?, bodyBytes: Int) -> String {
        #"{"object":"mock.echo","method":\#(String.jsonString(method)),"path":\#(String.jsonString(path)),"query":\#(query.map { String.jsonString($0) } ?? "null"),"body_bytes":\#(bodyBytes)}"#
    }
}
