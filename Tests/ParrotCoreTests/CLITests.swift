import Foundation
import ParrotCore
import ParrotMock
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

    func parrot(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil, timeout: Double = 60) throws -> Run {
        try Self.run(arguments, environment: environment, directory: directory, timeout: timeout)
    }

    /// Runs the binary; one still running after `timeout` seconds is killed (a `serve` that
    /// should have refused to start fails the test instead of hanging it).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil, timeout: Double = 60) throws -> Run {
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
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [process] in
            if process.isRunning, process.processIdentifier == pid { process.terminate() }
        }
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
        XCTAssertTrue(run.output.contains("key injected from OPENAI_API_KEY"), run.output)
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
        XCTAssertTrue(stats.output.range(of: #"entries +1\n"#, options: .regularExpression) != nil, stats.output)
        let refused = try parrot(["clear"], environment: env, directory: dir)
        XCTAssertNotEqual(refused.status, 0, "no --yes and no terminal: nothing deleted")
        let clear = try parrot(["clear", "--yes"], environment: env, directory: dir)
        XCTAssertEqual(clear.status, 0, clear.error)
        XCTAssertTrue(clear.output.contains("Deleted 1 cached answer from the whole cache in the store"), clear.output)
        let imported = try parrot(["import", dir + "/dump.jsonl"], environment: env, directory: dir)
        XCTAssertEqual(imported.status, 0, imported.error)
        let again = try await TestProxy.start(directory: dir)
        let hit = try await again.chat("cli round trip")
        XCTAssertEqual(hit.cache, "HIT")
        XCTAssertEqual(hit.body, miss.body)
        await again.stop()
    }

    /// `parrot(...)` off the cooperative pool, for tests that run a proxy in this process while
    /// the command talks to it.
    func parrotAsync(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.run(arguments, environment: environment, directory: directory) })
            }
        }
    }

    // MARK: the first 15 minutes (#20)

    func testServeRefusesToStartWhenAnEnvKeyNamesAnUnsetVariable() throws {
        let dir = try temporaryDirectory()
        try "[server]\nadmin_token_env = \"MY_ADMIN\"\nclient_tokens_env = \"MY_CLIENTS\"\n".write(toFile: dir + "/proxy.conf", atomically: true, encoding: .utf8)
        let run = try parrot(["serve", "--port", "0"], environment: ["PARROT_CACHE_PATH": dir + "/cache.sqlite"], directory: dir, timeout: 20)
        XCTAssertNotEqual(run.status, 0, "started with admin endpoints unprotected: \(run.error)")
        XCTAssertTrue(run.error.contains("server.admin_token_env") && run.error.contains("MY_ADMIN"), run.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/cache.sqlite"), "refused before opening the store")
    }

    func testAPortInUseIsReportedAsSuchNamingTheSetting() async throws {
        let mock = try await MockUpstream.start()
        defer { Task { await mock.stop() } }
        let dir = try temporaryDirectory()
        let run = try await parrotAsync(["serve", "--port", String(mock.port)], environment: ["PARROT_CACHE_PATH": dir + "/cache.sqlite"], directory: dir)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.error.contains("port \(mock.port) is in use (server.port / --port)"), run.error)
        XCTAssertFalse(run.error.contains("errno"), run.error)
    }

    func testFileErrorsGiveTheReasonAndTheSubcommandsUsage() throws {
        let dir = try temporaryDirectory()
        let imported = try parrot(["import", dir + "/missing.jsonl"], environment: ["PARROT_CACHE_PATH": dir + "/cache.sqlite"], directory: dir)
        XCTAssertNotEqual(imported.status, 0)
        XCTAssertTrue(imported.error.contains("cannot read \(dir)/missing.jsonl: no such file"), imported.error)
        XCTAssertTrue(imported.error.contains("Usage: parrot import"), imported.error)
        let config = try parrot(["stats", "--config", dir + "/nope.conf"], directory: dir)
        XCTAssertNotEqual(config.status, 0)
        XCTAssertTrue(config.error.contains("cannot read \(dir)/nope.conf: no such file"), config.error)
        XCTAssertTrue(config.error.contains("Usage: parrot stats"), config.error)
    }

    func testHelpIsNotWrappedMidSentence() throws {
        let help = try parrot(["--help"], environment: ["COLUMNS": "300"])
        XCTAssertTrue(help.output.contains("Point OPENAI_BASE_URL at Parrot (http://127.0.0.1:8080/v1 by default) and repeated requests are answered from a cache instead of the provider."), help.output)
    }

    func testReadOnlyCommandsNeverCreateAStoreAndInfoSaysWhatItShows() throws {
        let dir = try temporaryDirectory()
        let env = ["PARROT_SERVER_PORT": "9"]
        let stats = try parrot(["stats"], environment: env, directory: dir)
        XCTAssertEqual(stats.status, 0, stats.error)
        XCTAssertTrue(stats.output.contains("No store at"), stats.output)
        let info = try parrot(["info"], environment: env, directory: dir)
        XCTAssertEqual(info.status, 0, info.error)
        XCTAssertTrue(info.output.contains("local configuration (no instance answers at http://127.0.0.1:9)"), info.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.parrot"), "stats and info created a store")
    }

    func testStatsAndClearFindTheRunningInstanceByPortOrByAPastedURL() async throws {
        let dir = try temporaryDirectory()
        let proxy = try await TestProxy.start(directory: dir)
        do {
            _ = try await proxy.chat("find me")
            _ = try await proxy.chat("find me")
            let stored = try await eventually { try await proxy.stats()["cache"]?["entries"]?.intValue == 1 }
            XCTAssertTrue(stored)
            let env = ["PARROT_SERVER_PORT": "9", "PARROT_CACHE_PATH": dir + "/elsewhere.sqlite"]
            for arguments in [["--port", String(proxy.port)], ["--url", proxy.baseURL + "/v1"], ["--url", "127.0.0.1:\(proxy.port)/"]] {
                let stats = try await parrotAsync(["stats"] + arguments, environment: env, directory: dir)
                XCTAssertEqual(stats.status, 0, stats.error)
                XCTAssertTrue(stats.output.contains("Parrot at \(proxy.baseURL) — up "), "\(arguments): \(stats.output)\n\(stats.error)")
                XCTAssertTrue(stats.output.range(of: #"hits +1\n"#, options: .regularExpression) != nil, stats.output)
                XCTAssertTrue(stats.output.range(of: #"cost saved +\$0\.\d{2,6}\n"#, options: .regularExpression) != nil, stats.output)
                XCTAssertTrue(stats.output.range(of: #"stored +[\d.]+ (B|KiB)\n"#, options: .regularExpression) != nil, stats.output)
                XCTAssertTrue(stats.output.contains("offline misses  0 (would cost ~0 tokens, $0.00)"), stats.output)
                XCTAssertTrue(stats.output.range(of: #"/v1/chat/completions +1 +1 +0 +\d+ +\$0\.\d{2,6}\n"#, options: .regularExpression) != nil,
                              stats.output)
            }
            let info = try await parrotAsync(["info", "--port", String(proxy.port)], environment: env, directory: dir)
            XCTAssertTrue(info.output.contains("an instance answers at \(proxy.baseURL)"), info.output)
            let cleared = try await parrotAsync(["clear", "--yes", "--port", String(proxy.port)], environment: env, directory: dir)
            XCTAssertEqual(cleared.status, 0, cleared.error)
            XCTAssertEqual(cleared.output, "Deleted 1 cached answer from the whole cache through the running instance at \(proxy.baseURL).\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/elsewhere.sqlite"), "the running instance did the work")
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
    }

    func testClearTakesTheNamespaceNameClientsSend() async throws {
        let dir = try temporaryDirectory()
        let proxy = try await TestProxy.start(directory: dir)
        do {
            let team = [("x-parrot-namespace", "team-a")]
            _ = try await proxy.chat("team question", headers: team)
            _ = try await proxy.chat("team question")
            let hit = try await proxy.chat("team question", headers: team).cache
            XCTAssertEqual(hit, "HIT")
            let stored = try await eventually { try await proxy.stats()["cache"]?["entries"]?.intValue == 2 }
            XCTAssertTrue(stored)
            let cleared = try await parrotAsync(["clear", "--yes", "--namespace", "team-a", "--port", String(proxy.port)], directory: dir)
            XCTAssertEqual(cleared.status, 0, cleared.error)
            XCTAssertTrue(cleared.output.hasPrefix("Deleted 1 cached answer from namespace \"team-a\""), cleared.output)
            let gone = try await proxy.chat("team question", headers: team).cache
            XCTAssertEqual(gone, "MISS")
            let kept = try await proxy.chat("team question").cache
            XCTAssertEqual(kept, "HIT", "other namespaces are untouched")
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
    }

    func testARefusedClearSaysWhichVariableHoldsTheAdminToken() async throws {
        let dir = try temporaryDirectory()
        let proxy = try await TestProxy.start(directory: dir, secrets: Secrets(adminToken: "t0k")) { $0.server.adminTokenEnv = "MY_ADMIN_TOKEN" }
        do {
            let env = ["PARROT_SERVER_ADMIN_TOKEN_ENV": "MY_ADMIN_TOKEN"]
            let refused = try await parrotAsync(["clear", "--yes", "--port", String(proxy.port)], environment: env, directory: dir)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.error.contains("401") && refused.error.contains("MY_ADMIN_TOKEN"), refused.error)
            let allowed = try await parrotAsync(["clear", "--yes", "--port", String(proxy.port)], environment: env.merging(["MY_ADMIN_TOKEN": "t0k"]) { $1 }, directory: dir)
            XCTAssertEqual(allowed.status, 0, allowed.error)
        } catch {
            await proxy.stop()
            throw error
        }
        await proxy.stop()
    }
}
