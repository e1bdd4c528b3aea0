import AsyncHTTPClient
import Foundation
import NIOCore
import ParrotCore
import ParrotMock
import Synchronization
import XCTest

/// Hostile input over raw TCP against the real `parrot` process: a seeded, bounded fuzzer.
/// Parrot must never crash or hang, must stay within memory, and must answer every well-formed
/// HTTP request with an OpenAI-shaped 4xx (broken HTTP may instead get the parser's bare 400
/// and a closed connection). `PARROT_TEST_SEED` replays a run; `PARROT_LONG_TESTS=1` sends 10×.
final class FuzzTests: XCTestCase {
    enum Expectation: Sendable {
        /// Valid HTTP/1.1: an OpenAI-shaped 4xx, from Parrot or relayed from the provider.
        case wellFormed
        /// Valid HTTP over a configured limit (header bytes): refused, the connection closed.
        case overLimit
        /// Broken framing: any 4xx, or the connection closed. Never a hang, never a 5xx.
        case broken
    }

    struct Case: Sendable {
        var kind: String
        var bytes: [UInt8]
        var expectation: Expectation
        var bodyless = false
    }

    struct Result: Sendable {
        var classes: [String: Int] = [:]
        var failures: [String] = []
        var requests = 0

        mutating func count(_ name: String) { classes[name, default: 0] += 1 }
        mutating func merge(_ other: Result) {
            for (name, n) in other.classes { classes[name, default: 0] += n }
            failures += other.failures
            requests += other.requests
        }
    }

    static let maxBodyBytes = 65_536
    static let maxHeaderBytes = 8_192
    static let idleTimeoutS = 1

    // MARK: generator

    static let endpoints = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]
    static let validBodies = [
        #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}],"temperature":0.2}"#,
        #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#,
        #"{"model":"text-embedding-3-small","input":["a","b"]}"#,
        #"{"model":"gpt-4o-mini","prompt":"once upon","max_tokens":5,"stop":["\n"]}"#,
        #"{"model":"gpt-4o-mini","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"object"}}]}"#,
    ]
    static let wrongTypes = [
        "[]", "[1,2,3]", #""a string""#, "42", "-0.5e3", "null", "true", "{}",
        #"{"model":5}"#, #"{"model":["gpt-4o-mini"]}"#, #"{"model":{"name":"x"}}"#, #"{"model":true}"#,
        #"{"model":"gpt-4o-mini","stream":"yes"}"#, #"{"model":"gpt-4o-mini","stream":1}"#,
        #"{"model":"gpt-4o-mini","stream":{}}"#, #"{"model":"gpt-4o-mini","messages":"hi"}"#,
        #"{"model":"gpt-4o-mini","messages":[{"role":5,"content":[1]}]}"#, #"{"model":"gpt-4o-mini","max_tokens":"many"}"#,
        #"{"model":"gpt-4o-mini","temperature":"hot","messages":[]}"#, #"{"model":null,"messages":null}"#,
        #"{"model":"","messages":[]}"#, #"{"model":"gpt-4o-mini","model":6}"#,
    ]
    static let oddPaths = [
        "/", "/v2/chat/completions", "/v1", "/v1/", "/v1/unknown/thing", "/stats/extra", "/healthz/x", "/%00", "/%zz",
        "/../../etc/passwd", "/v1/chat/completions/../../../stats", "//", "/?a=b&a=c", "/v1/chat/completions?x=%zz&y",
        "/dashboard/../cache", "/metrics/../x", "/v1/files/%2e%2e%2f%2e%2e", "/v1/models/" + String(repeating: "m", count: 2000),
        "/" + String(repeating: "a/", count: 500),
    ]
    static let methods = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "POST", "TRACE", "HEAD"]

    static func head(_ method: String, _ path: String, _ headers: [(String, String)], bodyLength: Int?) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let bodyLength { text += "Content-Length: \(bodyLength)\r\n" }
        return text + "\r\n"
    }

    static func post(_ path: String, _ body: [UInt8], headers: [(String, String)] = [("Content-Type", "application/json")]) -> [UInt8] {
        Array(head("POST", path, headers, bodyLength: body.count).utf8) + body
    }

    static func mutate(_ bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(Array(#"{}[]",:\ "#.utf8).randomElement(using: &random)!, at: at)
            case 3: bytes = Array(bytes[0..<at])
            default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 8)], at: at)
            }
        }
        return bytes
    }

    static func makeCase(using random: inout SeededGenerator) -> Case {
        let endpoint = endpoints.randomElement(using: &random)!
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<22:
            // Invalid JSON: mutated valid bodies, or noise.
            let body = Int.random(in: 0..<4, using: &random) == 0
                ? (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                : mutate(Array(validBodies.randomElement(using: &random)!.utf8), using: &random)
            return Case(kind: "invalid json", bytes: post(endpoint, body), expectation: .wellFormed)
        case 22..<34:
            return Case(kind: "wrong types", bytes: post(endpoint, Array(wrongTypes.randomElement(using: &random)!.utf8)), expectation: .wellFormed)
        case 34..<42:
            let depth = Int.random(in: 50...12_000, using: &random)
            let open = Bool.random(using: &random) ? "[" : #"{"a":"#
            let close = open == "[" ? "]" : "}"
            let closed = Bool.random(using: &random)
            let body = #"{"model":"gpt-4o-mini","messages":"# + String(repeating: open, count: depth)
                + (closed ? "1" + String(repeating: close, count: depth) + "}" : "")
            return Case(kind: "deep nesting", bytes: post(endpoint, Array(body.utf8)), expectation: .wellFormed)
        case 42..<50:
            let invalid: [[UInt8]] = [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82]]
            var body = Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"caf"#.utf8)
            body += invalid.randomElement(using: &random)!
            body += Array(#""}]}"#.utf8)
            if Bool.random(using: &random) { body = Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\ud800 \udfff"}]}"#.utf8) }
            return Case(kind: "invalid utf-8", bytes: post(endpoint, body), expectation: .wellFormed)
        case 50..<56:
            let size = Int.random(in: (maxBodyBytes + 1)...(maxBodyBytes * 4), using: &random)
            let body = Array(#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.utf8) + Array(repeating: UInt8(ascii: "z"), count: size)
            return Case(kind: "huge body", bytes: post(endpoint, body), expectation: .wellFormed)
        case 56..<60:
            // Parrot's own endpoints with a method they do not take.
            let (path, allowed) = [("/stats", ["GET"]), ("/metrics", ["GET"]), ("/healthz", ["GET", "HEAD"]), ("/readyz", ["GET"]),
                                   ("/dashboard", ["GET"]), ("/cache", ["DELETE"]), ("/stats/reset", ["POST"])].randomElement(using: &random)!
            let method = ["PUT", "PATCH", "OPTIONS", "POST", "DELETE", "GET"].filter { !allowed.contains($0) }.randomElement(using: &random)!
            return Case(kind: "wrong method", bytes: Array(head(method, path, [], bodyLength: nil).utf8), expectation: .wellFormed)
        case 60..<70:
            let method = methods.randomElement(using: &random)!
            var path = oddPaths.randomElement(using: &random)!
            if method == "POST", Bool.random(using: &random) { path = "/v1/chat/completions/extra" }
            // GET / redirects to the dashboard (StatsHistoryTests); every other odd path is a 4xx.
            if method == "GET" || method == "HEAD", path == "/" || path.hasPrefix("/?") { path = "//" }
            let body = method == "GET" || method == "HEAD" ? nil : validBodies.randomElement(using: &random)!
            var bytes = Array(head(method, path, [("Content-Type", "application/json")], bodyLength: body?.utf8.count).utf8)
            bytes += Array((body ?? "").utf8)
            return Case(kind: "odd method or path", bytes: bytes, expectation: .wellFormed, bodyless: method == "HEAD")
        case 70..<76:
            let headers: [(String, String)] = [
                [("X-Parrot-TTL", "-1")], [("X-Parrot-TTL", "forever")], [("Cache-Control", "max-age=soon")],
                [("X-Parrot-Namespace", String(repeating: "n", count: 300))], [("Cache-Control", "max-age=-3")],
                [("Authorization", "Bearer " + String(repeating: "k", count: 3000)), ("X-Parrot-TTL", "x")],
            ].randomElement(using: &random)!
            return Case(kind: "bad parrot headers", bytes: post("/v1/chat/completions", Array(validBodies[0].utf8), headers: headers),
                        expectation: .wellFormed)
        case 76..<81:
            let bytes: [UInt8]
            if Bool.random(using: &random) {
                let value = String(repeating: "h", count: Int.random(in: (maxHeaderBytes + 1)...(maxHeaderBytes * 5), using: &random))
                bytes = post(endpoint, Array(validBodies[0].utf8), headers: [("X-Huge", value)])
            } else {
                let headers = (0..<Int.random(in: 200...1500, using: &random)).map { ("X-Many-\($0)", String(repeating: "v", count: 40)) }
                bytes = post(endpoint, Array(validBodies[0].utf8), headers: headers)
            }
            return Case(kind: "huge headers", bytes: bytes, expectation: .overLimit)
        case 81..<87:
            let body = validBodies[0]
            let lengths = ["abc", "-5", "99999999999999999999999", "1e3", " 12 34", "0x10", "\(body.utf8.count), \(body.utf8.count + 1)"]
            var headers: [(String, String)] = [("Content-Length", lengths.randomElement(using: &random)!)]
            if Bool.random(using: &random) { headers = [("Content-Length", "\(body.utf8.count)"), ("Transfer-Encoding", "chunked")] }
            if Int.random(in: 0..<3, using: &random) == 0 {
                headers = [("Content-Length", "\(body.utf8.count)"), ("Content-Length", "\(body.utf8.count - 3)")]
            }
            let bytes = Array(head("POST", endpoint, headers, bodyLength: nil).utf8) + Array(body.utf8)
            return Case(kind: "bad content-length", bytes: bytes, expectation: .broken)
        case 87..<90:
            // Shorter than the body: the rest is read as a (broken) next request.
            let body = Array(validBodies[0].utf8)
            let bytes = Array(head("POST", endpoint, [("Content-Type", "application/json")], bodyLength: body.count / 2).utf8) + body
            return Case(kind: "short content-length", bytes: bytes, expectation: .broken)
        case 90..<94:
            let chunked = ["zz\r\nabc\r\n0\r\n\r\n", "5\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n", "-1\r\n\r\n", "ffffffffffffffffff\r\nx\r\n"]
            let bytes = Array(head("POST", endpoint, [("Transfer-Encoding", "chunked")], bodyLength: nil).utf8)
                + Array(chunked.randomElement(using: &random)!.utf8)
            return Case(kind: "bad chunked body", bytes: bytes, expectation: .broken)
        default:
            let garbage: [String] = [
                "GET\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", "GET /\u{1}\u{7f} HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNo-Colon-Here\r\n\r\n",
                "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", "GET / HTTP/1.1\rHost: x\r\r\r",
                "\r\n\r\n\r\n", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            ]
            var bytes = Array(garbage.randomElement(using: &random)!.utf8)
            if Int.random(in: 0..<6, using: &random) == 0 {
                bytes = (0..<Int.random(in: 1...600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) } + [13, 10, 13, 10]
            }
            return Case(kind: "broken http", bytes: bytes, expectation: .broken)
        }
    }

    // MARK: running

    /// Sends each case, reusing the connection after well-formed exchanges Parrot kept open, and
    /// classifies what came back.
    static func run(_ cases: [Case], port: Int) throws -> Result {
        var result = Result()
        var connection: RawHTTPConnection?
        for item in cases {
            if connection == nil { connection = try RawHTTPConnection(port: port) }
            let current = connection!
            result.requests += 1
            current.send(item.bytes)
            let outcome = current.readResponse(deadline: .now + .seconds(5), bodyless: item.bodyless)
            var keep = item.expectation == .wellFormed
            switch outcome {
            case .timedOut:
                result.count("hung")
                result.failures.append("\(item.kind): no answer and no close within 5 s: \(String(decoding: item.bytes.prefix(200), as: UTF8.self))")
                keep = false
            case .closed:
                result.count("closed")
                if item.expectation == .wellFormed {
                    result.failures.append("\(item.kind): a well-formed request got no answer: \(String(decoding: item.bytes.prefix(200), as: UTF8.self))")
                }
                keep = false
            case .response(let response):
                let relayed = response.header("x-request-id") != nil
                let json = try? JSONParser.parse(response.body)
                let shaped = json?["error"]?["message"]?.stringValue != nil && json?["error"]?["type"]?.stringValue != nil
                let bare = response.body.isEmpty && response.closesConnection
                var name = "\(response.status)"
                if relayed { name += " (provider)" } else if bare && !item.bodyless { name += " (http parser)" }
                result.count(name)
                if !(400..<500).contains(response.status) {
                    result.failures.append("\(item.kind): status \(response.status): \(response.text.prefix(300)) for \(String(decoding: item.bytes.prefix(200), as: UTF8.self))")
                } else if item.expectation == .wellFormed, !item.bodyless, !shaped {
                    result.failures.append("\(item.kind): \(response.status) is not OpenAI-shaped: '\(response.text.prefix(300))' for \(String(decoding: item.bytes.prefix(200), as: UTF8.self))")
                } else if item.expectation == .overLimit, !response.closesConnection {
                    result.failures.append("\(item.kind): \(response.status) over the header limit without closing the connection")
                }
                if response.closesConnection { keep = false }
            }
            if !keep {
                current.close()
                connection = nil
            }
        }
        return result
    }

    /// Requests that never finish: heads cut short, bodies shorter than announced, heads
    /// trickled a byte at a time. Each connection must be closed by Parrot's idle timeout.
    static func runSlow(count: Int, port: Int, using random: inout SeededGenerator) throws -> Result {
        var result = Result()
        var connections: [(RawHTTPConnection, String, [UInt8])] = []
        for i in 0..<count {
            let body = Array(validBodies[0].utf8)
            let connection = try RawHTTPConnection(port: port)
            let kind: String
            var trickle: [UInt8] = []
            switch i % 3 {
            case 0:
                kind = "partial head"
                let full = Array(head("POST", "/v1/chat/completions", [("Content-Type", "application/json")], bodyLength: body.count).utf8)
                connection.send(Array(full.prefix(Int.random(in: 1..<full.count, using: &random))))
            case 1:
                kind = "partial body"
                let announced = body.count + Int.random(in: 1...100_000, using: &random)
                connection.send(Array(head("POST", "/v1/chat/completions", [("Content-Type", "application/json")], bodyLength: announced).utf8) + body)
            default:
                kind = "slowloris"
                trickle = Array("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "s"), count: 10_000)
            }
            connections.append((connection, kind, trickle))
        }
        let started = ContinuousClock.now
        let limit = started + .seconds(idleTimeoutS + 6)
        var open = Array(connections.indices)
        var sent = Array(repeating: 0, count: connections.count)
        while !open.isEmpty, ContinuousClock.now < limit {
            var stillOpen: [Int] = []
            for index in open {
                let (connection, _, trickle) = connections[index]
                if sent[index] < trickle.count {
                    connection.send([trickle[sent[index]]])
                    sent[index] += 1
                }
                if connection.waitForClose(deadline: .now + .milliseconds(5)) {
                    result.count("closed (\(connections[index].1))")
                } else {
                    stillOpen.append(index)
                }
            }
            open = stillOpen
        }
        result.requests = count
        for index in open {
            result.count("hung")
            result.failures.append("\(connections[index].1): still open \(idleTimeoutS + 6) s later, past idle_timeout_s = \(idleTimeoutS)")
        }
        return result
    }

    func testMalformedRequestsNeverCrashHangOrGrowParrot() async throws {
        let total = longTestsEnabled ? 100_000 : 10_000
        // Broken requests the parser waits on end only with the idle timeout: more connections
        // than cores keeps that waiting from adding up.
        let threads = 8
        let seed = SeededGenerator.seed(default: 0xF022)
        let mock = try await MockUpstream.start(options: MockOptions(recordsRequests: false))
        // Whatever reaches the provider is refused there too, the way OpenAI would.
        mock.setDefaultBehaviour(.status(400))
        let directory = try makeTemporaryDirectory("parrot-fuzz")
        var keepDirectory = false
        defer { if !keepDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        let parrot = try await ParrotProcess.start(directory: directory, environment: ParrotProcess.environment(mock: mock.baseURL, directory: directory, extra: [
            "PARROT_SERVER_MAX_BODY_BYTES": "\(Self.maxBodyBytes)",
            "PARROT_SERVER_MAX_HEADER_BYTES": "\(Self.maxHeaderBytes)",
            "PARROT_SERVER_IDLE_TIMEOUT_S": "\(Self.idleTimeoutS)",
            "PARROT_PROVIDERS_OPENAI_MAX_RETRIES": "0",
        ]))
        do {
            let port = parrot.port
            var generator = SeededGenerator(seed: seed)
            let warmUp = (0..<300).map { _ in Self.makeCase(using: &generator) }
            _ = try await onThread { try Self.run(warmUp, port: port) }
            let before = try await Self.residentBytes(parrot)

            let started = ContinuousClock.now
            let batches = (0..<threads).map { thread in
                var own = SeededGenerator(seed: seed &+ UInt64(thread + 1))
                return (0..<(total / threads)).map { _ in Self.makeCase(using: &own) }
            }
            let slowSeed = seed &+ 99
            let slowCount = longTestsEnabled ? 300 : 60
            let result = try await withThrowingTaskGroup(of: Result.self) { group in
                for batch in batches { group.addTask { try await onThread { try Self.run(batch, port: port) } } }
                group.addTask {
                    try await onThread {
                        var random = SeededGenerator(seed: slowSeed)
                        return try Self.runSlow(count: slowCount, port: port, using: &random)
                    }
                }
                var all = Result()
                for try await part in group { all.merge(part) }
                return all
            }
            let elapsed = ContinuousClock.now - started

            if !parrot.isRunning { keepDirectory = true }
            XCTAssertTrue(parrot.isRunning, "parrot crashed, log kept at \(parrot.logPath):\n\(parrot.logTail(60))")
            let health = try await onThread { () -> Int in
                let connection = try RawHTTPConnection(port: port)
                connection.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                if case .response(let response) = connection.readResponse(deadline: .now + .seconds(5)) { return response.status }
                return 0
            }
            XCTAssertEqual(health, 200, "parrot still answers after the fuzz")
            let after = try await Self.residentBytes(parrot)
            let summary = result.classes.sorted { $0.value > $1.value }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
            print("fuzz: \(result.requests) requests (seed \(seed)) in \(elapsed): \(summary); RSS \(before >> 20) → \(after >> 20) MiB")
            var kinds: [String: (Int, String)] = [:]
            for failure in result.failures {
                let kind = String(failure.prefix { $0 != "\n" }.prefix(90))
                kinds[kind] = ((kinds[kind]?.0 ?? 0) + 1, kinds[kind]?.1 ?? failure)
            }
            for (_, (count, example)) in kinds.sorted(by: { $0.value.0 > $1.value.0 }).prefix(20) { XCTFail("\(count)× \(example)") }
            XCTAssertTrue(result.failures.isEmpty, "\(result.failures.count) failures in all")
            XCTAssertGreaterThanOrEqual(result.requests, total)
            XCTAssertLessThan(after - before, 48 << 20, "RSS grew by \((after - before) >> 20) MiB")
            XCTAssertFalse(parrot.log.contains("Fatal error"), parrot.logTail())
        } catch {
            keepDirectory = true
            print("parrot log (kept): \(parrot.logPath)\n\(parrot.logTail(60))")
            await parrot.stop()
            await mock.stop()
            throw error
        }
        await parrot.stop()
        await mock.stop()
    }

    static func residentBytes(_ parrot: ParrotProcess) async throws -> Int {
        var request = HTTPClientRequest(url: parrot.baseURL + "/stats")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return try XCTUnwrap(JSONParser.parse(body.readableBytesView)["memory"]?["rss_bytes"]?.intValue)
    }
}

extension FuzzTests {
    /// Found by the fuzzer: a pass-through request body streamed to the provider could still be
    /// read by the upstream client's task when Hummingbird read the connection for the next
    /// request, and two readers of one stream trap (`NIOThrowingAsyncSequenceProducer`: "only
    /// allow a single Iterator"), killing the process. Keep-alive requests with bodies, some
    /// followed by garbage, reproduced it within a few thousand requests.
    func testPassThroughBodiesOnKeepAliveConnectionsNeverCrashParrot() async throws {
        let mock = try await MockUpstream.start(options: MockOptions(recordsRequests: false))
        let directory = try makeTemporaryDirectory("parrot-passthrough")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let parrot = try await ParrotProcess.start(directory: directory, environment: ParrotProcess.environment(mock: mock.baseURL, directory: directory))
        let port = parrot.port
        let perThread = longTestsEnabled ? 5000 : 1000
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    try await onThread {
                        var answered = 0
                        var connection = try RawHTTPConnection(port: port)
                        for i in 0..<perThread {
                            let body = String(repeating: "b", count: 10 + (i * 37 + thread) % 3000)
                            let garbage = i % 3 == 0 ? "BROKEN\r\n\r\n" : ""
                            connection.send("PUT /v1/files/f\(i) HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)\(garbage)")
                            if case .response(let response) = connection.readResponse(deadline: .now + .seconds(5)), response.status == 200 {
                                answered += 1
                            }
                            if !garbage.isEmpty || connection.peerClosed {
                                connection.close()
                                guard let next = try? RawHTTPConnection(port: port) else { return answered }
                                connection = next
                            }
                        }
                        return answered
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let alive = parrot.isRunning
        let fatal = parrot.log.split(separator: "\n").filter { $0.contains("Fatal error") }.joined(separator: "\n")
        await parrot.stop()
        await mock.stop()
        XCTAssertTrue(alive, "parrot died: \(fatal)")
        XCTAssertEqual(answered, 4 * perThread, "every forwarded PUT was answered by the provider")
        XCTAssertEqual(mock.requestCount(path: "/v1/files/f0"), 4)
    }
}

extension FuzzTests {
    /// Found by the fuzzer's memory bound: the key memo kept each remembered body as a slice of
    /// the connection's read buffer, so a small request that followed a large one on the same
    /// connection pinned the large buffer, beyond what the memo counts against its byte limit.
    func testSmallRequestsAfterHugeOnesDoNotPinMemory() async throws {
        let mock = try await MockUpstream.start(options: MockOptions(recordsRequests: false))
        mock.setDefaultBehaviour(.status(400))
        let directory = try makeTemporaryDirectory("parrot-pinned")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let parrot = try await ParrotProcess.start(directory: directory, environment: ParrotProcess.environment(mock: mock.baseURL, directory: directory, extra: [
            "PARROT_SERVER_MAX_BODY_BYTES": "\(Self.maxBodyBytes)",
        ]))
        let port = parrot.port
        let pairs = 1000
        func round(_ offset: Int) async throws {
            _ = try await withThrowingTaskGroup(of: Result.self) { group in
                for thread in 0..<4 {
                    group.addTask {
                        let cases = (0..<(pairs / 4)).flatMap { i -> [Case] in
                            let huge = Array(repeating: UInt8(ascii: "h"), count: 2 * Self.maxBodyBytes)
                            let small = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"pinned \#(offset) \#(thread) \#(i)"}]}"#
                            return [Case(kind: "huge body", bytes: Self.post("/v1/chat/completions", huge), expectation: .wellFormed),
                                    Case(kind: "small", bytes: Self.post("/v1/chat/completions", Array(small.utf8)), expectation: .wellFormed)]
                        }
                        return try await onThread { try Self.run(cases, port: port) }
                    }
                }
                var all = Result()
                for try await part in group { all.merge(part) }
                XCTAssertTrue(all.failures.isEmpty, "\(all.failures.prefix(3))")
                return all
            }
        }
        let before = try await Self.residentBytes(parrot)
        try await round(0)
        let after = try await Self.residentBytes(parrot)
        await parrot.stop()
        await mock.stop()
        print("pinned: \(pairs) small requests after huge ones: RSS \(before >> 20) → \(after >> 20) MiB")
        XCTAssertLessThan(after - before, 32 << 20, "\(pairs) remembered 100-byte bodies grew RSS by \((after - before) >> 20) MiB")
    }
}
