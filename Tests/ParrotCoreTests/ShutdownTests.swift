import AsyncHTTPClient
import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// Issue #19 ("promised but missing"): on SIGTERM Parrot stops accepting, answers `/readyz`
/// 503, lets in-flight requests and streams finish for up to `server.shutdown_grace_s`, then
/// closes the rest and exits 0. The real `parrot` process, real signals.
final class ShutdownTests: XCTestCase {
    func testSigtermLetsShortStreamsFinishCutsLongOnesAfterTheGraceAndExitsZero() async throws {
        try await withParrotProcess("parrot-shutdown", environment: ["PARROT_SERVER_SHUTDOWN_GRACE_S": "2", "PARROT_LOG_LEVEL": "info"]) {
            parrot, mock in
            let port = parrot.port
            // A stream that needs ~1 s (within the grace) and one that needs ~20 s (beyond it),
            // plus an idle keep-alive connection that probes /readyz during the drain.
            let short = Task { try await onThread { () -> String in
                let connection = try RawHTTPConnection(port: port)
                connection.send(streamRequest("short", chunks: 5, delayMs: 200))
                guard case .response(let response) = connection.readResponse(deadline: .now + .seconds(15)) else { return "no response" }
                return response.text
            } }
            let long = Task { try await onThread { () -> Bool in
                let connection = try RawHTTPConnection(port: port)
                connection.send(streamRequest("long", chunks: 40, delayMs: 500))
                if case .response = connection.readResponse(deadline: .now + .seconds(30)) { return false }
                return true  // cut: no complete response
            } }
            let probe = try await onThread { () -> HeldConnection in
                let connection = try RawHTTPConnection(port: port)
                connection.send("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                guard case .response(let ready) = connection.readResponse(deadline: .now + .seconds(5)), ready.status == 200 else {
                    throw TestError("/readyz was not 200 before the drain")
                }
                return HeldConnection(connection)
            }
            let streaming = try await eventually(5) { mock.requestCount(path: "/v1/chat/completions") == 2 }
            XCTAssertTrue(streaming)
            let signalled = ContinuousClock.now
            parrot.terminate()
            // The drain has begun once the listener refuses new connections.
            let draining = try await eventually(5) {
                try await onThread { () -> Bool in (try? RawHTTPConnection(port: port)) == nil }
            }
            XCTAssertTrue(draining, "the listener still accepts after SIGTERM")
            let readyDuringDrain = try await onThread { () -> Int in
                probe.connection.send("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                guard case .response(let response) = probe.connection.readResponse(deadline: .now + .seconds(5)) else { return 0 }
                return response.status
            }
            // An idle keep-alive connection is closed when the drain starts (Hummingbird quiesces
            // idle connections at once); a probe that gets in first is answered 503. Either way a
            // load balancer sees "not ready" — never a 200.
            XCTAssertTrue([0, 503].contains(readyDuringDrain), "a probe during the drain got \(readyDuringDrain)")
            let shortText = try await short.value
            XCTAssertTrue(shortText.contains("data: [DONE]"), "a stream that fits in the grace period finishes: \(shortText.suffix(200))")
            let longWasCut = try await long.value
            XCTAssertTrue(longWasCut, "a stream longer than the grace period is closed")
            let exited = await parrot.waitForExit(timeout: 15)
            XCTAssertTrue(exited)
            let took = ContinuousClock.now - signalled
            XCTAssertLessThan(took, .seconds(12), "exit follows the 2 s grace, not the 20 s stream")
            XCTAssertEqual(parrot.process.terminationStatus, 0, parrot.logTail())
            XCTAssertTrue(parrot.log.contains("server.shutdown_grace_s"), "the drain is logged: \(parrot.logTail())")
        }
    }
}

private func streamRequest(_ text: String, chunks: Int, delayMs: Int) -> String {
    let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"\#(text)"}]}"#
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + "x-mock-chunks: \(chunks)\r\nx-mock-chunk-delay-ms: \(delayMs)\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
}
