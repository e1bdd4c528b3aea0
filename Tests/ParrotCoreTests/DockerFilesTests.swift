import Foundation
import ParrotCore
import XCTest

/// No container engine runs here, so check what can be checked without one: every `PARROT_*`
/// setting in docker/ is a real configuration key, and the whole environment of a replica loads.
final class DockerFilesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func settings(in file: String) throws -> [String: String] {
        let text = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        var found: [String: String] = [:]
        let pattern = try NSRegularExpression(pattern: #"(PARROT_[A-Z0-9_]+)[:=]\s*"?([^"\s\\]*)"?"#)
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(match.range(at: 1), in: text)!])
            let value = String(text[Range(match.range(at: 2), in: text)!])
            if found[name] == nil { found[name] = value }
        }
        return found
    }

    func testComposeAndDockerfileUseOnlyRealConfigKeys() throws {
        for file in ["docker/compose.yaml", "docker/Dockerfile"] {
            let settings = try settings(in: file).filter { !["PARROT_CLIENT_TOKENS", "PARROT_ADMIN_TOKEN", "PARROT_NAMESPACE_SECRET"].contains($0.key) }
            XCTAssertFalse(settings.isEmpty, file)
            var environment = settings.mapValues { $0.hasPrefix("${") ? "x" : $0 }
            environment["PARROT_CACHE_POSTGRES_URL"] = environment["PARROT_CACHE_POSTGRES_URL"].map { _ in "postgres://u:p@h:5432/d" }
            var warnings: [String] = []
            let config = try ProxyConfig.parse(toml: "", environment: environment) { warnings.append($0) }
            XCTAssertEqual(warnings, [], "\(file) names keys Parrot does not know")
            XCTAssertEqual(config.server.host, "0.0.0.0", file)
        }
    }

    func testComposeRunsTwoReplicasOnPostgresWithReadinessChecks() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docker/compose.yaml"), encoding: .utf8)
        XCTAssertTrue(text.contains("parrot-1:") && text.contains("parrot-2:"))
        XCTAssertTrue(text.contains("PARROT_CACHE_STORE: postgres"))
        XCTAssertTrue(text.contains("/readyz"))
        XCTAssertTrue(text.contains("image: postgres"))
    }
}
