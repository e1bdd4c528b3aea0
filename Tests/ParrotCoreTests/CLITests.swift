import Foundation
import ParrotCore
import XCTest

/// The `parrot` executable itself, run as a user would.
final class CLITests: XCTestCase {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/parrot").path

    struct Run {
        var status: Int32
        var output: String
        var error: String
    }

    func parrot(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws -> Run {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw TestError("\(Self.binary) is missing: build with `swift build --build-tests` first")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PARROT_") }
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), error: String(decoding: error, as: UTF8.self))
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("parrot-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func testVersionAndHelpExplain() throws {
        let version = try parrot(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertFalse(version.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let help = try parrot(["--help"])
        XCTAssertTrue(help.output.contains("OPENAI_BASE_URL"))
        for command in ["serve", "stats", "info", "clear", "export", "import"] {
            XCTAssertTrue(help.output.contains(command), command)
        }
    }

    func testInvalidConfigFailsAtStartNamingTheKey() throws {
        let dir = try temporaryDirectory()
        try "[server]\nport = \"eighty\"\n".write(toFile: dir + "/proxy.conf", atomically: true, encoding: .utf8)
        let run = try parrot(["serve"], directory: dir)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.error.contains("server.port"), run.error)
        let env = try parrot(["serve"], environment: ["PARROT_CACHE_TTL_SECONDS": "soon"], directory: try temporaryDirectory())
        XCTAssertNotEqual(env.status, 0)
        XCTAssertTrue(env.error.contains("PARROT_CACHE_TTL_SECONDS"), env.error)
    }

    func testInfoShowsConfigWithoutSecrets() throws {
        let run = try parrot(["info"], environment: ["OPENAI_API_KEY": "sk-very-secret", "PARROT_SERVER_PORT": "9123"], directory: try temporaryDirectory())
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertTrue(run.output.contains("9123"))
        XCTAssertTrue(run.output.contains("OPENAI_API_KEY (set)"))
        XCTAssertFalse(run.output.contains("sk-very-secret"))
    }

    func testExportClearImportThroughTheCommandLine() async throws {
        let dir = try temporaryDirectory()
        let proxy = try await TestProxy.start(directory: dir)
        let miss = try await proxy.chat("cli round trip")
        await proxy.stop()
        let env = ["PARROT_CACHE_PATH": dir + "/cache.sqlite", "PARROT_SERVER_PORT": "9"]
        let export = try parrot(["export", dir + "/dump.jsonl"], environment: env, directory: dir)
        XCTAssertEqual(export.status, 0, export.error)
        XCTAssertTrue(export.error.contains("exported 1 entries"), export.error)
        let stats = try parrot(["stats"], environment: env, directory: dir)
        XCTAssertTrue(stats.error.contains("store-only"), stats.error)
        XCTAssertTrue(stats.output.contains("entries            1"), stats.output)
        let refused = try parrot(["clear"], environment: env, directory: dir)
        XCTAssertNotEqual(refused.status, 0, "no --yes and no terminal: nothing deleted")
        let clear = try parrot(["clear", "--yes"], environment: env, directory: dir)
        XCTAssertEqual(clear.status, 0, clear.error)
        XCTAssertTrue(clear.output.contains("Cleared 1"), clear.output)
        let imported = try parrot(["import", dir + "/dump.jsonl"], environment: env, directory: dir)
        XCTAssertEqual(imported.status, 0, imported.error)
        let again = try await TestProxy.start(directory: dir)
        let hit = try await again.chat("cli round trip")
        XCTAssertEqual(hit.cache, "HIT")
        XCTAssertEqual(hit.body, miss.body)
        await again.stop()
    }
}
