import Foundation
import NIOHTTP1
import ParrotCore
import XCTest

/// Loads `/dashboard` in a real headless Chromium against a real Parrot and checks that the page
/// shows exactly what `/stats` says (every number element keeps the raw value in `data-value`).
final class DashboardBrowserTests: XCTestCase {
    func testDashboardShowsTheSameNumbersAsStats() async throws {
        guard let chromium = try Self.chromium() else { return }
        try await withProxy { proxy in
            for i in 0..<3 {
                let outcome = try await proxy.chat("dashboard question \(i)").cache
                XCTAssertEqual(outcome, "MISS")
            }
            for i in 0..<5 {
                let outcome = try await proxy.chat("dashboard question \(i % 3)").cache
                XCTAssertEqual(outcome, "HIT")
            }
            let offline = try await proxy.chat("dashboard offline", headers: [("cache-control", "only-if-cached")])
            XCTAssertEqual(offline.status, 504)
            let bypass = try await proxy.chat("dashboard question 0", headers: [("cache-control", "no-store")])
            XCTAssertEqual(bypass.cache, "BYPASS")
            let stored = try await eventually { try await proxy.stats()["cache"]?["entries"]?.intValue == 3 }
            XCTAssertTrue(stored, "the three misses are stored")

            let dom = try await Self.chromium(chromium, ["--virtual-time-budget=5000", "--dump-dom", proxy.baseURL + "/dashboard"])
            let stats = try await proxy.stats()
            let cache = try XCTUnwrap(stats["cache"])

            // The known sequence, as /stats reports it.
            XCTAssertEqual(cache["hits"]?.intValue, 5)
            XCTAssertEqual(cache["misses"]?.intValue, 3)
            XCTAssertEqual(cache["bypass"]?.intValue, 1)
            XCTAssertEqual(stats["requests"]?.intValue, 10)
            XCTAssertEqual(cache["offline_misses"]?.intValue, 1)
            XCTAssertEqual(cache["entries"]?.intValue, 3)
            XCTAssertEqual(cache["hit_rate"]?.doubleValue, 0.625)
            XCTAssertGreaterThan(cache["tokens_saved"]?.intValue ?? 0, 0)

            // The page shows the same values, exactly.
            let expected: [(id: String, value: JSONValue?)] = [
                ("hits", cache["hits"]), ("misses", cache["misses"]), ("bypass", cache["bypass"]),
                ("stale", cache["stale"]), ("semantic-hits", cache["semantic_hits"]),
                ("requests", stats["requests"]), ("entries", cache["entries"]), ("bytes", cache["bytes"]),
                ("hit-rate", cache["hit_rate"]), ("tokens-saved", cache["tokens_saved"]),
                ("cost-saved", cache["cost_saved_usd"]), ("compression-ratio", cache["compression_ratio"]),
                ("lat-hit-count", stats["latency_ms"]?["hit"]?["count"]),
                ("lat-miss-count", stats["latency_ms"]?["miss"]?["count"]),
                ("offline-misses", cache["offline_misses"]), ("offline-tokens", cache["offline_miss_tokens"]),
                ("offline-cost", cache["offline_miss_cost_usd"]),
            ]
            for (id, value) in expected {
                let want = try XCTUnwrap(value?.doubleValue, "/stats has no number for #\(id)")
                let shown = try XCTUnwrap(Self.dataValue(id: id, in: dom), "no data-value on #\(id) in the dumped DOM")
                XCTAssertEqual(Double(shown), want, "#\(id) shows \(shown), /stats says \(want)")
            }
            XCTAssertTrue(dom.contains(#"data-model="gpt-4o-mini""#), "the per-model savings row is rendered")
            let chatRow = try XCTUnwrap(dom.range(of: #"data-endpoint="/v1/chat/completions""#), "the per-endpoint row is rendered")
            XCTAssertTrue(dom[chatRow.upperBound...].prefix(400).contains(#"data-field="hits" data-value="5""#),
                          "the chat row shows by_endpoint's 5 hits: \(dom[chatRow.upperBound...].prefix(400))")
            XCTAssertTrue(dom.contains(#"data-provider="openai""#), "the provider card is rendered")
            XCTAssertTrue(Self.tag(id: "banner", in: dom)?.contains("hidden") ?? false, "no unreachable banner while /stats answers")
            XCTAssertTrue(Self.tag(id: "admin-actions", in: dom)?.contains("hidden") ?? false, "admin actions stay hidden without a token")

            let png = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-dashboard-\(UUID().uuidString).png").path
            defer { try? FileManager.default.removeItem(atPath: png) }
            _ = try await Self.chromium(chromium, ["--virtual-time-budget=5000", "--hide-scrollbars", "--window-size=1280,1400",
                                                   "--screenshot=\(png)", proxy.baseURL + "/dashboard"])
            let bytes = try XCTUnwrap(FileManager.default.contents(atPath: png), "Chromium wrote no screenshot")
            XCTAssertGreaterThan(bytes.count, 1000)
            XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "the screenshot is a PNG")
        }
    }

    func testNamesFromStatsAreInsertedAsTextNotMarkup() async throws {
        guard let chromium = try Self.chromium() else { return }
        let model = "<img id='pwned' src=x onerror='document.title=1'>"
        try await withProxy { proxy in
            _ = try await proxy.chat("escape me", model: model)
            let second = try await proxy.chat("escape me", model: model).cache
            XCTAssertEqual(second, "HIT")
            let stats = try await proxy.stats()
            XCTAssertEqual(stats["cache"]?["unpriced_models"], .array([.string(model)]))

            let dom = try await Self.chromium(chromium, ["--virtual-time-budget=5000", "--dump-dom", proxy.baseURL + "/dashboard"])
            XCTAssertFalse(dom.contains("<img"), "a model name never becomes an element")
            XCTAssertTrue(dom.contains("&lt;img id='pwned' src=x onerror='document.title=1'&gt;"), "the name is shown as text")
            XCTAssertTrue(dom.contains(">unpriced<"), "an unpriced model is flagged")
            XCTAssertTrue(Self.tag(id: "unpriced", in: dom).map { !$0.contains("hidden") } ?? false, "the unpriced note is shown")
        }
    }

    // MARK: Chromium

    /// The Chromium binary, or nil after skipping (locally) or failing (in CI) when there is none.
    static func chromium() throws -> String? {
        let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for name in names {
            for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        if ProcessInfo.processInfo.environment["CI"] != nil {
            XCTFail("Chromium not installed (looked for \(names.joined(separator: ", ")) on PATH): ./test.sh installs chromium")
            return nil
        }
        throw XCTSkip("Chromium not installed: ./test.sh installs it")
    }

    /// Runs headless Chromium with `arguments` and returns its standard output. A run that takes
    /// longer than `timeout` is killed and fails the test.
    static func chromium(_ binary: String, _ arguments: [String], timeout: Duration = .seconds(90)) async throws -> String {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("parrot-chromium-\(UUID().uuidString)")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        guard fm.createFile(atPath: outURL.path, contents: nil) else { throw TestError("cannot create \(outURL.path)") }
        let output = try FileHandle(forWritingTo: outURL)
        defer { try? output.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--user-data-dir=\(scratch.appendingPathComponent("profile").path)"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished in
            exited.continuation.yield(finished.terminationStatus)
            exited.continuation.finish()
        }
        try process.run()

        let status: Int32? = await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                var iterator = exited.stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let status else {
            let pid = process.processIdentifier
            process.terminate()
            try? await Task.sleep(for: .seconds(2))
            if process.isRunning { kill(pid, SIGKILL) }
            throw TestError("Chromium did not finish within \(timeout): killed it (\(arguments.joined(separator: " ")))")
        }
        guard status == 0 else { throw TestError("Chromium exited with status \(status) (\(arguments.joined(separator: " ")))") }
        try output.synchronize()
        return try String(contentsOf: outURL, encoding: .utf8)
    }

    // MARK: DOM

    /// The opening tag of the element whose id is `id`, e.g. `<dd id="hits" data-value="5">`.
    static func tag(id: String, in dom: String) -> Substring? {
        guard let at = dom.range(of: #"id="\#(id)""#),
              let start = dom[..<at.lowerBound].lastIndex(of: "<"),
              let end = dom[at.upperBound...].firstIndex(of: ">") else { return nil }
        return dom[start...end]
    }

    /// The `data-value` of the element whose id is `id`.
    static func dataValue(id: String, in dom: String) -> String? {
        guard let tag = tag(id: id, in: dom), let at = tag.range(of: #" data-value=""#) else { return nil }
        let rest = tag[at.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}
