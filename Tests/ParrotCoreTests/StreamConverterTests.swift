import NIOCore
import XCTest

@testable import ParrotCore

/// JSON ⇄ SSE conversion of stored answers: the same choices, content, tool calls, finish
/// reasons, logprobs and usage either way; a stream without usage never becomes JSON.
final class StreamConverterTests: XCTestCase {
    static let chatJSON = #"{"id":"chatcmpl-1","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","refusal":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"logprobs":{"content":[{"token":"Hello","logprob":-0.1,"bytes":[72],"top_logprobs":[]},{"token":" there","logprob":-0.2,"bytes":[32],"top_logprobs":[]}],"refusal":null},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"system_fingerprint":"fp"}"#

    func testChatJSONToStreamAndBackKeepsEverything() throws {
        let sse = try XCTUnwrap(StreamConverter.sse(fromJSON: ByteBuffer(string: Self.chatJSON), endpoint: .chatCompletions, includeUsage: true))
        let text = String(buffer: sse)
        XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"))
        XCTAssertTrue(text.contains(#""object":"chat.completion.chunk""#))
        let back = try XCTUnwrap(StreamConverter.json(fromSSE: sse, endpoint: .chatCompletions))
        let original = try JSONParser.parse(Array(Self.chatJSON.utf8))
        let roundTrip = try JSONParser.parse(back.readableBytesView)
        let choice = roundTrip["choices"]?[0]
        XCTAssertEqual(choice?["message"]?["content"], original["choices"]?[0]?["message"]?["content"])
        XCTAssertEqual(choice?["message"]?["tool_calls"], original["choices"]?[0]?["message"]?["tool_calls"])
        XCTAssertEqual(choice?["finish_reason"], .string("tool_calls"))
        XCTAssertEqual(choice?["logprobs"]?["content"], original["choices"]?[0]?["logprobs"]?["content"])
        XCTAssertEqual(roundTrip["usage"], original["usage"])
        XCTAssertEqual(roundTrip["object"], .string("chat.completion"))
    }

    func testUsageChunkOnlyWhenAsked() throws {
        let without = try XCTUnwrap(StreamConverter.sse(fromJSON: ByteBuffer(string: Self.chatJSON), endpoint: .chatCompletions, includeUsage: false))
        XCTAssertFalse(String(buffer: without).contains("prompt_tokens"))
        XCTAssertNil(StreamConverter.json(fromSSE: without, endpoint: .chatCompletions), "a stream without usage never becomes JSON")
    }

    func testStreamedLogprobsAreConcatenatedPerChoice() throws {
        let chunk = { (text: String, token: String) in
            #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\#(text)"},"logprobs":{"content":[{"token":"\#(token)","logprob":-1,"bytes":[],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}"# + "\n\n"
        }
        let stream = chunk("Hel", "Hel") + chunk("lo", "lo")
            + #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}"# + "\n\n"
            + #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"# + "\n\n"
            + "data: [DONE]\n\n"
        let json = try JSONParser.parse(try XCTUnwrap(StreamConverter.json(fromSSE: ByteBuffer(string: stream), endpoint: .chatCompletions)).readableBytesView)
        XCTAssertEqual(json["choices"]?[0]?["message"]?["content"], .string("Hello"))
        XCTAssertEqual(json["choices"]?[0]?["logprobs"]?["content"]?.arrayValue?.compactMap { $0["token"]?.stringValue }, ["Hel", "lo"])
        XCTAssertEqual(json["choices"]?[0]?["logprobs"]?["refusal"], .null)
        XCTAssertEqual(json["usage"]?["total_tokens"]?.intValue, 3)
    }

    func testLegacyCompletionsLogprobsSurviveBothWays() throws {
        let completion = #"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"text":"Hi","index":0,"logprobs":{"tokens":["Hi"],"token_logprobs":[-0.5],"top_logprobs":null,"text_offset":[0]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#
        let sse = try XCTUnwrap(StreamConverter.sse(fromJSON: ByteBuffer(string: completion), endpoint: .completions, includeUsage: true))
        let back = try JSONParser.parse(try XCTUnwrap(StreamConverter.json(fromSSE: sse, endpoint: .completions)).readableBytesView)
        XCTAssertEqual(back["choices"]?[0]?["text"], .string("Hi"))
        XCTAssertEqual(back["choices"]?[0]?["logprobs"]?["tokens"], .array([.string("Hi")]))
        XCTAssertEqual(back["choices"]?[0]?["logprobs"]?["token_logprobs"]?[0]?.doubleValue, -0.5)
    }

    func testOtherEndpointsDoNotConvert() {
        XCTAssertNil(ProxyEngine.convert(.init(string: Self.chatJSON), to: .sse, endpoint: .responses, includeUsage: false))
        XCTAssertNil(ProxyEngine.convert(.init(string: Self.chatJSON), to: .sse, endpoint: .embeddings, includeUsage: false))
    }
}
