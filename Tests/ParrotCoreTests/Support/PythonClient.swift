import Foundation
import XCTest

/// The official `openai` Python SDK, run from the venv `scripts/install-deps.sh --test` creates
/// (`.venv/`, or `PARROT_TEST_PYTHON`): the clients users really run, pointed at a real Parrot.
/// A script prints one JSON document on stdout; the test asserts on what the SDK returned
/// (types, parsed fields, stream events). A missing venv fails the test: it is never skipped.
enum PythonClient {
    static let python = ProcessInfo.processInfo.environment["PARROT_TEST_PYTHON"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".venv/bin/python").path

    /// Runs `script` with `OPENAI_BASE_URL` set to `baseURL` + `/v1` and returns its stdout parsed
    /// as JSON. The SDK's own retries are off so every request in the script is one request.
    static func run(_ script: String, baseURL: String, apiKey: String = "sk-test-client",
                    environment extra: [String: String] = [:], timeout: Double = 60) throws -> Any {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestError("\(python) is missing: run scripts/install-deps.sh --test (./test.sh does) to create the venv with the openai SDK")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENAI_BASE_URL"] = baseURL + "/v1"
        environment["OPENAI_API_KEY"] = apiKey
        environment["NO_PROXY"] = "*"
        environment.merge(extra) { $1 }
        process.environment = environment
        // Output goes to files, not pipes: nothing has to drain them while the script runs.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            throw TestError("the Python client did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        let stdout = (try? Data(contentsOf: outURL)) ?? Data()
        let stderr = (try? Data(contentsOf: errURL)) ?? Data()
        guard process.terminationStatus == 0 else {
            throw TestError("the Python client failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self).suffix(3000))")
        }
        do {
            return try JSONSerialization.jsonObject(with: stdout)
        } catch {
            throw TestError("the Python client printed no JSON: \(String(decoding: stdout, as: UTF8.self).suffix(2000))")
        }
    }

    /// The lines every script starts with: the SDK, no retries, a bounded timeout.
    static let prelude = """
    import json, os, sys
    import openai
    client = openai.OpenAI(max_retries=0, timeout=30)

    """
}
