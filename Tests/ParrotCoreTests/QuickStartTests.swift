import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The README's "Try it in two minutes without a key", run exactly as written: the real
/// `parrot` and `mock-upstream` binaries of this build, curl, and the official openai SDK from
/// the test venv. A quick start that does not work is the first thing a new user meets.
final class QuickStartTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fenced `sh` block after the `<!-- quick-start` marker in README.md.
    static func quickStart() throws -> String {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let marker = readme.range(of: "<!-- quick-start"),
              let open = readme.range(of: "```sh\n", range: marker.upperBound..<readme.endIndex),
              let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { throw TestError("README.md has no quick-start block after a <!-- quick-start marker") }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    func testTheReadmeQuickStartWorksAsWritten() async throws {
        let script = try Self.quickStart()
        let debug = Self.root.appendingPathComponent(".build/debug")
        for binary in ["parrot", "mock-upstream"] where !FileManager.default.isExecutableFile(atPath: debug.appendingPathComponent(binary).path) {
            throw TestError("\(debug.path)/\(binary) is missing: build with `swift build --build-tests` first")
        }
        let python = Self.root.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestError("\(python) is missing: ./test.sh (scripts/install-deps.sh --test) creates the venv with the openai SDK")
        }
        for port in [8080, 9999] where !Self.isFree(port) {
            throw TestError("port \(port), which the quick start uses, is taken on this machine")
        }
        // A checkout-shaped directory whose .build/release is this build's debug directory, so
        // the commands run exactly as a user types them.
        let dir = try makeTemporaryDirectory("parrot-quickstart")
        try FileManager.default.createDirectory(atPath: dir + "/.build", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/.build/release", withDestinationPath: debug.path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        // Whatever happens, the background jobs do not outlive the script.
        process.arguments = ["-c", "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + script]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PARROT_") && !$0.key.hasPrefix("OPENAI_") }
        env["PATH"] = Self.root.appendingPathComponent(".venv/bin").path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let outURL = URL(fileURLWithPath: dir + "/out.txt")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil) else { throw TestError("cannot create \(outURL.path)") }
        let out = try FileHandle(forWritingTo: outURL)
        defer { try? out.close() }
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("the quick start did not finish within 120 s:\n\(try String(contentsOf: outURL, encoding: .utf8))")
            return
        }
        let output = try String(contentsOf: outURL, encoding: .utf8)
        XCTAssertEqual(process.terminationStatus, 0, output)
        let outcomes = output.replacingOccurrences(of: "\r", with: "").split(separator: "\n").filter { $0.lowercased().hasPrefix("x-parrot-cache:") }
            .map { $0.split(separator: ":")[1].trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(outcomes, ["MISS", "HIT"], output)
        XCTAssertTrue(output.contains("openai SDK: HIT"), output)
        XCTAssertTrue(output.contains(#""cache""#) || output.contains(#""requests""#), "the /stats excerpt: \(output)")
        let stopped = try await eventually(10) { Self.isFree(8080) && Self.isFree(9999) }
        XCTAssertTrue(stopped, "the quick start stops what it started")
    }

    /// Whether nothing listens on 127.0.0.1:`port`.
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected != 0
    }
}
