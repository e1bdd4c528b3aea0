import Foundation
import ParrotCore
import XCTest

/// Memory-tier hits are answered on the event loop by `HitFastPathHandler`; everything else
/// goes through Hummingbird. These tests pin what must not differ between the two paths and
/// what the fast path must never do (overtake an earlier answer, skip authorisation, let an
/// active connection time out).
final class HitFastPathTests: XCTestCase {
    static func request(_ prompt: String, extraHeaders: String = "") -> String {
        let body = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\#(prompt)"}]}"#
        return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Authorization: Bearer sk-fast\r\n\(extraHeaders)Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    static func response(_ connection: RawHTTPConnection, seconds: Double = 10) throws -> RawHTTPConnection.Response {
        switch connection.readResponse(deadline: .now + .seconds(seconds)) {
        case .response(let response): return response
        case .closed(let partial): throw TestError("connection closed after \(partial) bytes")
        case .timedOut: throw TestError("no response within \(seconds) s")
        }
    }

    func testEventLoopHitMatchesTheFullPathHit() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            let prime = try await proxy.chat("same answer either way", headers: [("authorization", "Bearer sk-fast")])
            XCTAssertEqual(prime.cache, "MISS")
            let before = proxy.engine.eventLoopHits
            let (fast, full) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                connection.send(Self.request("same answer either way"))
                let fast = try Self.response(connection)
                // Any `Connection` header sends a request through Hummingbird.
                connection.send(Self.request("same answer either way", extraHeaders: "Connection: keep-alive\r\n"))
                let full = try Self.response(connection)
                return (fast, full)
            }
            XCTAssertEqual(proxy.engine.eventLoopHits, before + 1, "exactly one of the two was answered on the event loop")
            for response in [fast, full] {
                XCTAssertEqual(response.status, 200)
                XCTAssertEqual(response.header("x-parrot-cache"), "HIT")
                XCTAssertEqual(response.text, prime.body)
            }
            func names(_ r: RawHTTPConnection.Response) -> [String] { r.headers.map { $0.0.lowercased() }.sorted() }
            XCTAssertEqual(names(fast), names(full))
            for name in ["content-type", "content-length", "x-parrot-key", "x-parrot-provider"] {
                XCTAssertEqual(fast.header(name), full.header(name), name)
            }
            XCTAssertNotNil(fast.header("date"))
            XCTAssertNotNil(fast.header("age"))
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["cache"]?["hits"]?.intValue, 2)
            XCTAssertEqual(proxy.mock.requestCount(path: "/v1/chat/completions"), 1)
        }
    }

    func testPipelinedHitWaitsForTheEarlierAnswer() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            _ = try await proxy.chat("quick one", headers: [("authorization", "Bearer sk-fast")])
            let (first, second) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                // A slow miss, then a hit, written together: the hit must come second.
                connection.send(Self.request("slow one", extraHeaders: "X-Mock-Delay-Ms: 300\r\n") + Self.request("quick one"))
                return (try Self.response(connection), try Self.response(connection))
            }
            XCTAssertEqual(first.header("x-parrot-cache"), "MISS")
            XCTAssertTrue(first.text.contains("slow one"), first.text)
            XCTAssertEqual(second.header("x-parrot-cache"), "HIT")
            XCTAssertTrue(second.text.contains("quick one"), second.text)
        }
    }

    func testBodyInPiecesIsStillAHit() async throws {
        try await withProxy { proxy in
            let port = proxy.port
            _ = try await proxy.chat("arrives in pieces", headers: [("authorization", "Bearer sk-fast")])
            let before = proxy.engine.eventLoopHits
            let response = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                let bytes = Array(Self.request("arrives in pieces").utf8)
                let cut = bytes.count - 20
                connection.send(Array(bytes[..<cut]))
                usleep(100_000)
                connection.send(Array(bytes[cut...]))
                return try Self.response(connection)
            }
            XCTAssertEqual(response.header("x-parrot-cache"), "HIT")
            XCTAssertEqual(proxy.engine.eventLoopHits, before + 1)
        }
    }

    func testLargeBodiesTakeTheFullPathAndStillHit() async throws {
        try await withProxy { proxy in
            // ~40 kB, above the fast path's 32 KiB; not repetitive, so the test client's gzip
            // ratio limit does not refuse the (gzipped) hit.
            let long = (0..<6000).map { String($0 * 7919 % 100_003) }.joined(separator: " ")
            _ = try await proxy.chat(long)
            let before = proxy.engine.eventLoopHits
            let again = try await proxy.chat(long)
            XCTAssertEqual(again.cache, "HIT")
            XCTAssertEqual(proxy.engine.eventLoopHits, before, "a body above 32 KiB is never held on the event loop")
        }
    }

    func testClientTokensAreCheckedBeforeAnEventLoopHit() async throws {
        try await withProxy(secrets: Secrets(clientTokens: ["team-token"])) { proxy in
            let primed = try await proxy.chat("members only", headers: [("x-parrot-token", "team-token")])
            XCTAssertEqual(primed.cache, "MISS")
            let outsider = try await proxy.chat("members only", headers: [("x-parrot-token", "wrong")])
            XCTAssertEqual(outsider.status, 401)
            XCTAssertNil(outsider.cache)
            let none = try await proxy.chat("members only")
            XCTAssertEqual(none.status, 401)
            let member = try await proxy.chat("members only", headers: [("x-parrot-token", "team-token")])
            XCTAssertEqual(member.cache, "HIT")
            XCTAssertEqual(proxy.engine.eventLoopHits, 1)
        }
    }

    func testAConnectionBusyWithHitsIsNotIdle() async throws {
        try await withProxy(configure: { $0.server.idleTimeoutS = 1 }) { proxy in
            let port = proxy.port
            _ = try await proxy.chat("keep me open", headers: [("authorization", "Bearer sk-fast")])
            let (answered, closedWhenIdle) = try await onThread {
                let connection = try RawHTTPConnection(port: port)
                var answered = 0
                // 2.5 s of hits on one connection, one every 100 ms: longer than the idle timeout.
                for _ in 0..<25 {
                    guard connection.send(Self.request("keep me open")) else { break }
                    guard case .response(let r) = connection.readResponse(deadline: .now + .seconds(5)),
                          r.header("x-parrot-cache") == "HIT" else { break }
                    answered += 1
                    usleep(100_000)
                }
                // ...and once quiet, the idle timeout still closes it.
                return (answered, connection.waitForClose(deadline: .now + .seconds(5)))
            }
            XCTAssertEqual(answered, 25)
            XCTAssertTrue(closedWhenIdle)
            XCTAssertGreaterThanOrEqual(proxy.engine.eventLoopHits, 25)
        }
    }
}
