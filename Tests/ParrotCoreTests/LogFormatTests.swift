import Foundation
import Logging
import ParrotCore
import ParrotMock
import XCTest

final class LogFormatTests: XCTestCase {
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var all: [String] = []
        func add(_ line: String) { lock.lock(); all.append(line); lock.unlock() }
    }

    func testJSONLogsCarryTheRequestFieldsAsOneObjectPerLine() async throws {
        let lines = Lines()
        var logger = Logger(label: "parrot") { label in JSONLogHandler(label: label) { line, _ in lines.add(line) } }
        logger.logLevel = .info
        let mock = try await MockUpstream.start()
        let proxy = try await TestProxy.start(mock: mock, logger: logger)
        _ = try await proxy.chat("json logs", headers: [("authorization", "Bearer sk-json-secret")])
        _ = try await proxy.chat("json logs", headers: [("authorization", "Bearer sk-json-secret")])
        await proxy.stop()
        let requests = lines.all.compactMap { try? JSONParser.parse(Array($0.utf8)) }.filter { $0["msg"]?.stringValue == "request" }
        XCTAssertEqual(requests.count, 2, lines.all.joined(separator: "\n"))
        for field in ["ts", "level", "method", "path", "status", "cache", "provider", "model", "key", "total_ms"] {
            XCTAssertNotNil(requests.last?[field], field)
        }
        XCTAssertEqual(requests.first?["cache"]?.stringValue, "MISS")
        XCTAssertNotNil(requests.first?["upstream_ms"])
        // Milliseconds with exactly three decimals, e.g. "0.042" or "12.300".
        var checked = 0
        for request in requests {
            for field in ["total_ms", "upstream_ms"] {
                guard let text = request[field]?.stringValue else { continue }
                checked += 1
                XCTAssertNotNil(text.range(of: #"^[0-9]+\.[0-9]{3}$"#, options: .regularExpression), "\(field) = \(text)")
                XCTAssertLessThan(Double(text) ?? .infinity, 10_000, "\(field) = \(text)")
            }
        }
        XCTAssertEqual(checked, 3, "total_ms twice, upstream_ms once")
        XCTAssertEqual(requests.last?["cache"]?.stringValue, "HIT")
        XCTAssertFalse(lines.all.joined().contains("sk-json-secret"))
        XCTAssertFalse(lines.all.joined().contains("json logs"), "prompts are never logged")
    }

    func testLogSinkWritesEveryLineInOrder() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        let sink = LogSink(fileDescriptor: handle.fileDescriptor)
        for i in 0..<5000 { sink.write("line \(i)") }
        sink.write("urgent", urgent: true)
        sink.flush()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let written = text.split(separator: "\n")
        XCTAssertEqual(written.count, 5001)
        XCTAssertEqual(written.first, "line 0")
        XCTAssertEqual(written[4999], "line 4999")
        XCTAssertEqual(written.last, "urgent")
        try handle.close()
    }
}
