import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// Issue #16: what the official `openai` Python SDK gets from Parrot — parsed objects, stream
/// events, logprobs, usage — in the situations that broke real programs: a request joining an
/// in-flight answer of the other mode, a plain call right after a stream the SDK stopped reading
/// at `[DONE]`, conversions between a stored stream and a stored JSON answer.
final class RealClientTests: XCTestCase {
    /// Starts a slow stream in a thread and returns once its first chunk arrived, so the next
    /// request finds it in flight.
    private static let streamInBackground = """
    import threading
    def stream_in_background(kwargs, headers):
        first, pieces = threading.Event(), []
        def run():
            for chunk in client.chat.completions.create(stream=True, extra_headers=headers, **kwargs):
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
                first.set()
        thread = threading.Thread(target=run)
        thread.start()
        first.wait(10)
        return thread, pieces

    """

    private func sdk(_ proxy: TestProxy, _ body: String, timeout: Double = 60) throws -> [String: Any] {
        let result = try PythonClient.run(PythonClient.prelude + Self.streamInBackground + body, baseURL: proxy.baseURL, timeout: timeout)
        return try XCTUnwrap(result as? [String: Any], "the script printed \(result)")
    }

    // MARK: 1. coalescing across modes

    /// A plain `create()` made while an identical stream is in flight gets a parsed
    /// ChatCompletion, never the stream's SSE bytes. The stream carries no usage, so the plain
    /// call is not coalesced with it: it makes its own upstream call.
    func testPlainCallDuringAStreamGetsAChatCompletion() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "plain during stream"}])
            t, pieces = stream_in_background(kwargs, {"x-mock-chunk-delay-ms": "150", "x-mock-chunks": "8"})
            raw = client.chat.completions.with_raw_response.create(**kwargs)
            completion = raw.parse()
            t.join()
            print(json.dumps({"type": type(completion).__name__, "content": completion.choices[0].message.content,
                              "cache": raw.headers.get("x-parrot-cache"), "ctype": raw.headers.get("content-type"),
                              "usage": completion.usage is not None, "streamed": "".join(pieces)}))
            """)
            XCTAssertEqual(result["type"] as? String, "ChatCompletion")
            XCTAssertEqual(result["content"] as? String, "Mock answer to: plain during stream")
            XCTAssertEqual(result["streamed"] as? String, "Mock answer to: plain during stream")
            XCTAssertEqual(result["ctype"] as? String, "application/json")
            XCTAssertEqual(result["usage"] as? Bool, true)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2, "a stream without usage cannot answer a plain call")
        }
    }

    /// With `include_usage` the stream can stand for the JSON answer: the plain call waits for
    /// it, receives it converted (with usage), and the provider is called once.
    func testPlainCallJoiningAStreamWithUsageIsConverted() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "joined with usage"}],
                          stream_options={"include_usage": True})
            t, _ = stream_in_background(kwargs, {"x-mock-chunk-delay-ms": "150", "x-mock-chunks": "8"})
            raw = client.chat.completions.with_raw_response.create(**kwargs)
            completion = raw.parse()
            t.join()
            print(json.dumps({"type": type(completion).__name__, "content": completion.choices[0].message.content,
                              "cache": raw.headers.get("x-parrot-cache"), "total": completion.usage.total_tokens}))
            """)
            XCTAssertEqual(result["type"] as? String, "ChatCompletion")
            XCTAssertEqual(result["content"] as? String, "Mock answer to: joined with usage")
            XCTAssertEqual(result["cache"] as? String, "MISS")
            XCTAssertGreaterThan(result["total"] as? Int ?? 0, 0)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    /// A streamed request joining an in-flight plain call receives a real stream (chunks the SDK
    /// yields), converted from the complete JSON answer; one upstream call.
    func testStreamJoiningAPlainCallGetsChunks() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            import time
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "stream joins plain"}])
            out = {}
            def plain():
                out["plain"] = client.chat.completions.create(extra_headers={"x-mock-delay-ms": "1500"}, **kwargs)
            t = threading.Thread(target=plain); t.start()
            time.sleep(0.4)  # the plain call is now waiting on the provider's head
            pieces, kinds = [], set()
            for chunk in client.chat.completions.create(stream=True, **kwargs):
                kinds.add(type(chunk).__name__)
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
            t.join()
            print(json.dumps({"streamed": "".join(pieces), "kinds": sorted(kinds),
                              "plain": out["plain"].choices[0].message.content}))
            """)
            XCTAssertEqual(result["streamed"] as? String, "Mock answer to: stream joins plain")
            XCTAssertEqual(result["kinds"] as? [String], ["ChatCompletionChunk"])
            XCTAssertEqual(result["plain"] as? String, "Mock answer to: stream joins plain")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    /// The SDK stops reading at `data: [DONE]`, before the provider ends its body; a plain call
    /// made at once must still get a ChatCompletion, every time.
    func testPlainCallRightAfterAStreamStoppedAtDoneIsAChatCompletion() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            types, contents = [], []
            for i in range(20):
                kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": f"after done {i}"}])
                for chunk in client.chat.completions.create(stream=True, extra_headers={"x-mock-linger-ms": "300"}, **kwargs):
                    pass
                completion = client.chat.completions.create(**kwargs)
                types.append(type(completion).__name__)
                contents.append(completion.choices[0].message.content)
            print(json.dumps({"types": sorted(set(types)), "contents": contents}))
            """, timeout: 120)
            XCTAssertEqual(result["types"] as? [String], ["ChatCompletion"])
            XCTAssertEqual(result["contents"] as? [String], (0..<20).map { "Mock answer to: after done \($0)" })
        }
    }

    // MARK: 3. logprobs through conversions

    /// A stored JSON answer replayed as a stream keeps its logprobs, chunk by chunk.
    func testStoredJSONReplayedAsAStreamKeepsLogprobs() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "logprobs json first"}], logprobs=True)
            direct = client.chat.completions.create(**kwargs)
            raw = client.chat.completions.with_raw_response.create(stream=True, **kwargs)
            tokens = []
            for chunk in raw.parse():
                for choice in chunk.choices:
                    if choice.logprobs and choice.logprobs.content:
                        tokens += [(t.token, t.logprob) for t in choice.logprobs.content]
            print(json.dumps({"direct": [(t.token, t.logprob) for t in direct.choices[0].logprobs.content],
                              "streamed": tokens, "cache": raw.headers.get("x-parrot-cache")}))
            """)
            let direct = try XCTUnwrap(result["direct"] as? [[Any]])
            XCTAssertFalse(direct.isEmpty)
            XCTAssertEqual(result["cache"] as? String, "HIT")
            XCTAssertEqual("\(result["streamed"] ?? "")", "\(result["direct"] ?? "")")
        }
    }

    /// A stored stream (with usage) assembled into JSON keeps every chunk's logprobs.
    func testStoredStreamAssembledIntoJSONKeepsLogprobs() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "logprobs stream first"}], logprobs=True,
                          stream_options={"include_usage": True})
            tokens = []
            for chunk in client.chat.completions.create(stream=True, **kwargs):
                for choice in chunk.choices:
                    if choice.logprobs and choice.logprobs.content:
                        tokens += [(t.token, t.logprob) for t in choice.logprobs.content]
            raw = client.chat.completions.with_raw_response.create(**kwargs)
            completion = raw.parse()
            print(json.dumps({"streamed": tokens, "cache": raw.headers.get("x-parrot-cache"),
                              "assembled": [(t.token, t.logprob) for t in (completion.choices[0].logprobs.content or [])],
                              "usage": completion.usage.total_tokens if completion.usage else None}))
            """)
            XCTAssertEqual(result["cache"] as? String, "HIT")
            XCTAssertFalse((result["streamed"] as? [Any] ?? []).isEmpty)
            XCTAssertEqual("\(result["assembled"] ?? "")", "\(result["streamed"] ?? "")")
            XCTAssertGreaterThan(result["usage"] as? Int ?? 0, 0)
        }
    }

    // MARK: 4. usage

    /// A stream requested without `include_usage` does not answer a plain request (its JSON
    /// would have no usage): MISS, stored beside; afterwards both modes hit their own entries.
    func testStreamWithoutUsageDoesNotAnswerAPlainCall() async throws {
        try await withProxy { proxy in
            let result = try sdk(proxy, """
            kwargs = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "usage matters"}])
            for chunk in client.chat.completions.create(stream=True, **kwargs):
                pass
            plain = client.chat.completions.with_raw_response.create(**kwargs)
            again_plain = client.chat.completions.with_raw_response.create(**kwargs)
            again_stream = client.chat.completions.with_raw_response.create(stream=True, **kwargs)
            chunks = list(again_stream.parse())
            print(json.dumps({"first": plain.headers.get("x-parrot-cache"), "usage": plain.parse().usage.total_tokens,
                              "again_plain": again_plain.headers.get("x-parrot-cache"),
                              "again_plain_usage": again_plain.parse().usage.total_tokens,
                              "again_stream": again_stream.headers.get("x-parrot-cache"),
                              "content": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)}))
            """)
            XCTAssertEqual(result["first"] as? String, "MISS")
            XCTAssertGreaterThan(result["usage"] as? Int ?? 0, 0)
            XCTAssertEqual(result["again_plain"] as? String, "HIT")
            XCTAssertGreaterThan(result["again_plain_usage"] as? Int ?? 0, 0)
            XCTAssertEqual(result["again_stream"] as? String, "HIT")
            XCTAssertEqual(result["content"] as? String, "Mock answer to: usage matters")
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 2)
        }
    }
}
