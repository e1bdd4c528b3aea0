import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ParrotCore
import ParrotMock
import XCTest

/// Issue #18 item 1: one request must not exhaust memory. An upstream that streams without end,
/// a client that does not read: each client's window is bounded, the upstream is paced by the
/// clients up to that window, a client that stays behind is cut off, and a reading client on the
/// same answer goes on. Measured on the real `parrot` process, RSS from `/proc`.
final class StreamMemoryTests: XCTestCase {
    func testEndlessStreamWithANonReadingClientKeepsMemoryBounded() async throws {
        let environment = [
            "PARROT_SERVER_SLOW_CLIENT_TIMEOUT_S": "2", "PARROT_SERVER_CLIENT_WINDOW_BYTES": "1048576",
            // The answer bound would end the endless stream at 64 MiB; pacing is what is under test.
            "PARROT_PROVIDERS_OPENAI_MAX_ANSWER_BYTES": "17179869184",
        ]
        try await withParrotProcess("parrot-stream-memory", mockOptions: .init(recordsRequests: false), environment: environment) {
            parrot, _ in
            // Warm up the paths the stream takes, then take the baseline.
            let port = parrot.port
            try await onThread {
                for i in 0..<20 {
                    let connection = try RawHTTPConnection(port: port)
                    let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"warm \#(i)"}]}"#
                    connection.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
                    _ = connection.readResponse(deadline: .now + .seconds(5))
                }
            }
            let baseline = try XCTUnwrap(parrot.residentBytes)

            let body = #"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"never ends"}]}"#
            let request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\nx-mock-endless: 1\r\nx-mock-size: 200000\r\nx-mock-delay-ms: 300\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
            // The client that never reads; it stays connected until the end of the test.
            let idle = try await onThread { () -> HeldConnection in
                let connection = try RawHTTPConnection(port: port)
                var small: Int32 = 4096
                setsockopt(connection.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                connection.send(request)
                return HeldConnection(connection)
            }
            // The client that reads, on the same answer (it joins before the provider's head).
            let reading = Task {
                try await onThread { () -> (early: Int, late: Int) in
                    let connection = try RawHTTPConnection(port: port)
                    connection.send(request)
                    let early = connection.discard(until: .now + .seconds(4))
                    let late = connection.discard(until: .now + .seconds(2))
                    connection.close()
                    return (early, late)
                }
            }
            var peak = baseline
            let sampling = ContinuousClock.now + .seconds(6)
            while ContinuousClock.now < sampling {
                peak = max(peak, parrot.residentBytes ?? 0)
                try await Task.sleep(for: .milliseconds(50))
            }
            let received = try await reading.value
            XCTAssertGreaterThan(received.early, 32 << 20, "the reading client was held back")
            XCTAssertGreaterThan(received.late, 8 << 20, "the reading client stopped receiving after the other was cut off")
            let growth = peak - baseline
            XCTAssertLessThan(growth, 48 << 20, "RSS grew by \(growth >> 20) MiB (baseline \(baseline >> 20) MiB)")

            // Both clients gone: the upstream call is cancelled and everything is freed.
            idle.connection.close()
            let released = try await eventually(10) {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: parrot.baseURL + "/stats"), timeout: .seconds(5))
                let stats = try JSONParser.parse(Array(try await response.body.collect(upTo: 1 << 20).readableBytesView))
                return stats["providers"]?["openai"]?["pool"]?["in_flight"]?.intValue == 0
            }
            XCTAssertTrue(released, "the endless upstream call was not cancelled")
            let after = try XCTUnwrap(parrot.residentBytes)
            XCTAssertLessThan(after - baseline, 48 << 20, "RSS stayed \((after - baseline) >> 20) MiB above its baseline")
            print("stream memory: baseline \(baseline >> 20) MiB, peak +\(growth >> 20) MiB, after +\((after - baseline) >> 20) MiB, "
                  + "reading client \(received.early >> 20) + \(received.late >> 20) MiB")
        }
    }
}

