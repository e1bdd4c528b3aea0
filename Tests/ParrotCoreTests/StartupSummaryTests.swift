import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// What Parrot says when it starts and when it stops: the facts a user checks first.
final class StartupSummaryTests: XCTestCase {
    func testStartUpLogsOneSummaryOfWhatIsInEffect() async throws {
        let secrets = Secrets(providerKeys: ["openai": "sk-never-logged"], adminToken: "admin-never-logged", clientTokens: ["c1", "c2"])
        try await withProxy(secrets: secrets, configure: { config in
            config.providers["openai"]!.apiKeyEnv = "MY_OPENAI_KEY"
            config.server.adminTokenEnv = "MY_ADMIN"
            config.server.clientTokensEnv = "MY_CLIENTS"
        }) { proxy in
            let lines = proxy.logs.all.filter { $0.hasPrefix("info ") }
            let summary = try XCTUnwrap(lines.firstIndex { $0.contains("Parrot started") }, "\(lines)")
            let block = lines[summary...].prefix(12).joined(separator: "\n")
            let path = URL(fileURLWithPath: proxy.directory + "/cache.sqlite").standardizedFileURL.path
            for fact in [
                "config", "none (built-in defaults",
                "listen", proxy.baseURL,
                "provider openai", proxy.mock.baseURL, "key injected from MY_OPENAI_KEY",
                "store", "sqlite \(path)",
                "cache mode", "read_write",
                "semantic tier", "off",
                "admin auth", "on (token from MY_ADMIN)",
                "client auth", "on (2 tokens from MY_CLIENTS)",
                "dashboard", proxy.baseURL + "/dashboard",
            ] {
                XCTAssertTrue(block.contains(fact), "\(fact) missing from:\n\(block)")
            }
            XCTAssertFalse(block.contains("never-logged"), block)
        }
        try await withProxy(configure: { $0.cache.enabled = false }) { proxy in
            let block = proxy.logs.all.joined(separator: "\n")
            XCTAssertTrue(block.contains("key forwarded from the client (api_key_env is empty)"), block)
            XCTAssertTrue(block.contains("off (cache.enabled = false)"), block)
            XCTAssertTrue(block.contains("admin auth") && block.contains("off (admin endpoints open on this loopback listener)"), block)
            XCTAssertTrue(block.contains("off (any client is served)"), block)
        }
    }

    func testTheDrainOnSIGTERMIsLogged() async throws {
        let mock = try await MockUpstream.start()
        defer { Task { await mock.stop() } }
        let dir = try makeTemporaryDirectory("parrot-drain")
        var environment = ParrotProcess.environment(mock: mock.baseURL, directory: dir)
        environment["PARROT_LOG_LEVEL"] = "info"
        let parrot = try await ParrotProcess.start(directory: dir, environment: environment)
        parrot.terminate()
        let exited = await parrot.waitForExit(timeout: 30)
        if !exited { await parrot.stop() }
        XCTAssertTrue(exited)
        XCTAssertEqual(parrot.process.terminationStatus, 0)
        let log = parrot.log
        XCTAssertTrue(log.contains("Parrot started"), log)
        XCTAssertTrue(log.contains("config") && log.contains("none (built-in defaults"), log)
        XCTAssertTrue(log.contains("draining: not accepting new connections"), log)
        XCTAssertTrue(log.contains("stopped"), log)
    }
}
