import Foundation
import Logging
import ParrotCore
import ParrotMock
import XCTest

/// DESIGN.md "Hostile clients and web pages", the values a client chooses: JSON that two parsers
/// read differently, and names sized to grow Parrot's state or forge its log lines.
final class HostileValuesTests: XCTestCase {
    // MARK: JSON both sides read alike (item 7)

    func testDuplicateMemberNamesAre400AtAnyDepth() async throws {
        try await withProxy { proxy in
            let duplicates = [
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"}],"model":"gpt-4o"}"#,
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a","role":"system"}]}"#,
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","type":"array"}}}}"#,
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"}],"logit_bias":{"# + (0..<40).map { "\"\($0)\":1" }.joined(separator: ",") + #","7":-1}}"#,
                #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"}],"mod\u0065l":"gpt-4o"}"#,
            ]
            for body in duplicates {
                let reply = try await proxy.send(.POST, "/v1/chat/completions", body: body)
                XCTAssertEqual(reply.status, 400, body)
                XCTAssertNotNil(reply.json?["error"]?["message"]?.stringValue, reply.body)
                XCTAssertTrue(reply.body.contains("duplicate member name"), reply.body)
            }
            XCTAssertEqual(proxy.mock.totalRequests, 0, "no duplicate reached the provider")
            // The same name in sibling objects is no duplicate.
            let siblings = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#
            let ok = try await proxy.send(.POST, "/v1/chat/completions", body: siblings)
            XCTAssertEqual(ok.status, 200, ok.body)
        }
    }

    // MARK: attacker-sized state and logs (item 8)

    func testModelLongerThan256BytesIs400() async throws {
        try await withProxy { proxy in
            let long = try await proxy.chat("long model", model: String(repeating: "m", count: 257))
            XCTAssertEqual(long.status, 400, long.body)
            XCTAssertEqual(long.json?["error"]?["param"]?.stringValue, "model")
            XCTAssertEqual(proxy.mock.totalRequests, 0)
            let limit = try await proxy.chat("long model", model: String(repeating: "m", count: 256))
            XCTAssertEqual(limit.status, 200, limit.body)
        }
    }

    func testStatsKeepAThousandModelsAndFoldTheRestUnderOther() async throws {
        try await withProxy { proxy in
            let models = (0..<1003).map { "model-\($0)" }
            // A miss then a hit for each: savings are recorded on hits.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for (i, model) in models.enumerated() where i % 8 == lane {
                            for expected in ["MISS", "HIT"] {
                                let reply = try await proxy.chat("fold", model: model)
                                XCTAssertEqual(reply.cache, expected, model)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let byModel = try await proxy.stats()["cache"]?["by_model"]
            guard case .object(let entries) = byModel else { return XCTFail("no by_model: \(String(describing: byModel))") }
            XCTAssertEqual(entries.count, 1001, "1,000 model names plus (other)")
            XCTAssertEqual(byModel?["(other)"]?["answers"]?.intValue, 3)
            let answers = entries.compactMap { $0.1["answers"]?.intValue }.reduce(0, +)
            XCTAssertEqual(answers, 1003, "every hit is still counted")
        }
    }

    func testTextLogsEscapeControlCharactersInEveryValue() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-log-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        let sink = LogSink(fileDescriptor: handle.fileDescriptor)
        var logger = Logger(label: "parrot") { label in TextLogHandler(label: label, sink: sink) }
        logger.logLevel = .info
        let proxy = try await TestProxy.start(logger: logger)
        do {
            // JSON escapes: the model name holds a newline, a carriage return and an ANSI escape.
            let forged = #"gpt-4o-mini\n2026-01-01T00:00:00.000Z error parrot: admin token is hunter2\r\u001b[2J"#
            for _ in 0..<2 {
                let reply = try await proxy.chat("log forging", model: forged)
                XCTAssertEqual(reply.status, 200, reply.body)
            }
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
        sink.flush()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let requests = lines.filter { $0.contains(" parrot: request ") }
        XCTAssertEqual(requests.count, 2, text)
        for line in lines {
            XCTAssertNotNil(line.range(of: #"^\d{4}-\d{2}-\d{2}T"#, options: .regularExpression), "a line not written by Parrot: \(line)")
            XCTAssertFalse(line.contains("\r") || line.contains("\u{1b}"), "a raw control character: \(line)")
            XCTAssertFalse(line.hasPrefix("2026-01-01T00:00:00.000Z"), "a forged line: \(line)")
        }
        XCTAssertTrue(requests.allSatisfy { $0.contains(#"model=gpt-4o-mini\n2026-01-01T00:00:00.000Z error parrot: admin token is hunter2\r\u{1b}[2J"#) },
                      requests.joined(separator: "\n"))
    }
}
