import CompressNIO
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Turns one complete request into a ``MockReply``: counts it, resolves its controls, routes
/// it and renders the answer. Shared by every connection of one mock.
final class MockCore: Sendable {
    let options: MockOptions
    let state = Mutex(MockState())
    let connections: MockConnections

    init(options: MockOptions, connections: MockConnections) {
        self.options = options
        self.connections = connections
    }

    func reply(to head: HTTPRequestHead, body: ByteBuffer) -> MockReply {
        let (path, query) = Self.split(head.uri)
        if path.hasPrefix("/_mock/") {
            return administer(method: head.method, path: path)
        }
        let record =
            options.recordsRequests
            ? MockRecordedRequest(
                method: head.method.rawValue,
                path: head.uri,
                headers: head.headers.map { (name: $0.name.lowercased(), value: $0.value) },
                body: Array(body.readableBytesView)
            ) : nil
        let (number, behaviour) = state.withLock { $0.begin(path: path, record: record) }
        var controls = MockControls(options: options, headers: head.headers)
        if let behaviour { controls.apply(behaviour) }

        if controls.closeWithoutResponse {
            return MockReply(action: .closeWithoutResponse, delayMs: controls.delayMs)
        }
        if controls.stall {
            return MockReply(action: .stall, delayMs: 0)
        }
        if let status = controls.status, status >= 400 {
            let answer = Answer(status: status, rendered: .json(MockAnswers.error(status: status)), promptTokens: 0)
            return wire(answer, number: number, controls: controls)
        }
        var answer = route(method: head.method, path: path, query: query, body: body, number: number, controls: controls)
        if let status = controls.status, answer.status < 400 { answer.status = status }
        return wire(answer, number: number, controls: controls)
    }

    private struct Answer {
        var status: Int
        var rendered: MockRendered
        var promptTokens: Int
    }

    private func route(method: HTTPMethod, path: String, query: String?, body: ByteBuffer, number: Int, controls: MockControls)
        -> Answer
    {
        let created = Int(Date().timeIntervalSince1970)
        switch (method, path) {
        case (.POST, "/v1/chat/completions"), (.POST, "/v1/completions"), (.POST, "/v1/responses"):
            guard let json = Self.parseObject(body) else { return Self.badJSON }
            let prompt: MockPrompt
            let render: (MockPrompt, String, Int, Int, Int) -> MockRendered
            switch path {
            case "/v1/chat/completions": (prompt, render) = (MockPrompt.chat(json), MockAnswers.chat)
            case "/v1/completions": (prompt, render) = (MockPrompt.completion(json), MockAnswers.completion)
            default: (prompt, render) = (MockPrompt.response(json), MockAnswers.response)
            }
            let content = MockContent.answer(to: prompt.lastUserText, size: controls.contentSize)
            let rendered = render(prompt, content, number, created, controls.chunkCount)
            return Answer(status: 200, rendered: rendered, promptTokens: prompt.promptTokens)
        case (.POST, "/v1/embeddings"):
            guard let json = Self.parseObject(body) else { return Self.badJSON }
            let rendered = MockAnswers.embeddings(json) { text in self.state.withLock { $0.embeddings[text] } }
            return Answer(status: 200, rendered: .json(rendered), promptTokens: 0)
        case (.GET, "/v1/models"):
            return Answer(status: 200, rendered: .json(MockAnswers.models), promptTokens: 0)
        default:
            guard path.hasPrefix("/v1/") || path == "/v1" else {
                let message = "Unknown request URL: \(method.rawValue) \(path). The mock upstream serves /v1/* only."
                return Answer(status: 404, rendered: .json(MockAnswers.error(status: 404, message: message)), promptTokens: 0)
            }
            let echo = MockAnswers.echo(method: method.rawValue, path: path, query: query, bodyBytes: body.readableBytes)
            return Answer(status: 200, rendered: .json(echo), promptTokens: 0)
        }
    }

    private static let badJSON = Answer(
        status: 400,
        rendered: .json(
            MockAnswers.error(
                status: 400,
                message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)"
            )),
        promptTokens: 0
    )

    /// Stands in for a plain answer when `invalidJSON` hits a streamed request.
    private static let truncatedStreamJSON =
        #"{"id":"chatcmpl-invalid","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Mock answer"#

    private static func parseObject(_ body: ByteBuffer) -> MockJSON? {
        guard let json = MockJSON.parse(body), case .object = json else { return nil }
        return json
    }

    /// Adds the headers every OpenAI answer carries and applies the faults that act on bytes.
    private func wire(_ answer: Answer, number: Int, controls: MockControls) -> MockReply {
        var headers = HTTPHeaders()
        headers.reserveCapacity(16)
        headers.add(name: "x-request-id", value: "req_\(number)")
        headers.add(name: "openai-processing-ms", value: "\(controls.delayMs + 1)")
        headers.add(name: "openai-version", value: "2020-10-01")
        headers.add(name: "openai-organization", value: "mock-org")
        headers.add(name: "x-ratelimit-limit-requests", value: "10000")
        headers.add(name: "x-ratelimit-remaining-requests", value: "9999")
        headers.add(name: "x-ratelimit-reset-requests", value: "6ms")
        headers.add(name: "x-ratelimit-limit-tokens", value: "2000000")
        headers.add(name: "x-ratelimit-remaining-tokens", value: "\(2_000_000 - min(answer.promptTokens, 2_000_000))")
        headers.add(name: "x-ratelimit-reset-tokens", value: "0s")
        // As api.openai.com does: a proxy must not pass this on to browsers.
        headers.add(name: "access-control-allow-origin", value: "*")
        if answer.status >= 400, let retryAfter = controls.retryAfter {
            headers.add(name: "retry-after", value: "\(retryAfter)")
        }
        let status = HTTPResponseStatus(statusCode: answer.status)

        if case .events(let events, let firstContent) = answer.rendered, !controls.invalidJSON {
            headers.add(name: "content-type", value: "text/event-stream; charset=utf-8")
            headers.add(name: "cache-control", value: "no-cache")
            if controls.endless, events.count > firstContent {
                let body = MockReply.Body.endless(first: ByteBuffer(string: events[0]), event: ByteBuffer(string: events[firstContent]))
                return MockReply(action: .respond(status: status, headers: headers, body: body), delayMs: controls.delayMs)
            }
            let contentEnd = firstContent + controls.chunkCount
            var cutAt: Int?
            if let cutAfter = controls.cutAfter {
                cutAt = min(firstContent + max(0, cutAfter), contentEnd)
            } else if controls.resetMidBody {
                cutAt = firstContent + controls.chunkCount / 2
            }
            let buffers = events.map { ByteBuffer(string: $0) }
            return MockReply(
                action: .respond(status: status, headers: headers, body: .events(buffers, gapMs: controls.chunkDelayMs, cutAt: cutAt, lingerMs: controls.lingerMs)),
                delayMs: controls.delayMs
            )
        }

        var body: ByteBuffer
        switch answer.rendered {
        case .json(let text) where controls.padding > 0 && text.hasPrefix("{"):
            body = ByteBuffer(string: "{" + String(repeating: " ", count: controls.padding) + text.dropFirst())
        case .json(let text): body = ByteBuffer(string: text)
        case .events: body = ByteBuffer(string: Self.truncatedStreamJSON)
        }
        if controls.invalidJSON {
            body = body.getSlice(at: body.readerIndex, length: max(1, body.readableBytes / 2)) ?? body
        }
        headers.add(name: "content-type", value: "application/json")
        if controls.gzip, let compressed = try? body.compress(with: .gzip()) {
            body = compressed
            headers.add(name: "content-encoding", value: "gzip")
        }
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        let cutAt = controls.resetMidBody || controls.cutAfter != nil ? body.readableBytes / 2 : nil
        let pieces = controls.dripsPlainBody && controls.chunkDelayMs > 0 ? controls.chunkCount : 1
        return MockReply(
            action: .respond(status: status, headers: headers, body: .full(body, pieces: pieces, gapMs: controls.chunkDelayMs, cutAt: cutAt)),
            delayMs: controls.delayMs
        )
    }

    /// `GET /_mock/stats` and `POST /_mock/reset`: the counters for a process that cannot call
    /// the Swift API, such as a benchmark driving `mock-upstream`. Not counted, not scripted.
    private func administer(method: HTTPMethod, path: String) -> MockReply {
        let json: String
        let status: Int
        switch (method, path) {
        case (.GET, "/_mock/stats"):
            let (total, paths) = state.withLock { ($0.totalRequests, $0.pathCounts) }
            let pathList = paths.sorted { $0.key < $1.key }.map { String.jsonString($0.key) + ":\($0.value)" }
            json =
                #"{"requests":\#(total),"connections_opened":\#(connections.opened),"paths":{\#(pathList.joined(separator: ","))}}"#
            status = 200
        case (.POST, "/_mock/reset"):
            state.withLock { $0.resetCounters() }
            connections.resetCount()
            json = #"{"reset":true}"#
            status = 200
        default:
            json = MockAnswers.error(status: 404, message: "Unknown mock control \(method.rawValue) \(path).")
            status = 404
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(json.utf8.count)")
        let body = MockReply.Body.full(ByteBuffer(string: json), pieces: 1, gapMs: 0, cutAt: nil)
        return MockReply(action: .respond(status: HTTPResponseStatus(statusCode: status), headers: headers, body: body), delayMs: 0)
    }

    private static func split(_ uri: String) -> (path: String, query: String?) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
