import ParrotCore
import XCTest

final class ConfigTests: XCTestCase {
    func testNoFileGivesDocumentedDefaults() throws {
        let config = try ProxyConfig.parse(toml: "")
        XCTAssertEqual(config.server.host, "127.0.0.1")
        XCTAssertEqual(config.server.port, 8080)
        XCTAssertEqual(config.cache.store, "sqlite")
        XCTAssertEqual(config.cache.path, ".parrot/cache.sqlite")
        XCTAssertEqual(config.cache.ttlSeconds, 3600)
        XCTAssertEqual(Array(config.providers.keys), ["openai"])
        XCTAssertEqual(config.providers["openai"]?.baseURL, "https://api.openai.com/v1")
        XCTAssertEqual(config.providers["openai"]?.apiKeyEnv, "OPENAI_API_KEY")
        XCTAssertEqual(config.providers["openai"]?.breaker.failureThreshold, 5)
        XCTAssertFalse(config.semantic.enabled)
        XCTAssertEqual(config.semantic.threshold, 0.8)
    }

    func testFileValuesAndProvidersAreRead() throws {
        let config = try ProxyConfig.parse(toml: """
            [server]
            port = 9000
            default_provider = "local"
            [cache]
            ttl_seconds = 60
            [cache.endpoint_ttl_seconds]
            embeddings = 86400
            [providers.local]
            base_url = "http://127.0.0.1:1234/v1"
            api_key_env = ""
            models = ["llama*"]
            [providers.openai]
            models = ["gpt-4o*", "*"]
            [providers.openai.breaker]
            open_seconds = 7
            [pricing."my-model"]
            input_per_mtok = 1.5
            """)
        XCTAssertEqual(config.server.port, 9000)
        XCTAssertEqual(config.cache.ttlSeconds, 60)
        XCTAssertEqual(config.cache.endpointTTLSeconds["embeddings"], 86400)
        XCTAssertEqual(config.providers["local"]?.models, ["llama*"])
        XCTAssertEqual(config.providers["openai"]?.breaker.openSeconds, 7)
        XCTAssertEqual(config.pricing["my-model"]?.inputPerMTok, 1.5)
        XCTAssertEqual(config.pricing["gpt-4o-mini"]?.outputPerMTok, 0.60, "built-in prices stay")
    }

    func testEnvironmentOverridesKeysByTheDocumentedRule() throws {
        var warnings: [String] = []
        let config = try ProxyConfig.parse(toml: "", environment: [
            "PARROT_SERVER_PORT": "9100",
            "PARROT_CACHE_ENABLED": "false",
            "PARROT_CACHE_TTL_SECONDS": "600",
            "PARROT_PROVIDERS_OPENAI_BASE_URL": "http://127.0.0.1:9999/v1",
            "PARROT_PROVIDERS_OPENAI_BREAKER_OPEN_SECONDS": "10",
            "PARROT_PROVIDERS_OPENAI_MODELS": "gpt-4o*, o1",
            "PARROT_PROVIDERS_NOPE_BASE_URL": "http://x",
            "PARROT_TYPO": "1",
        ]) { warnings.append($0) }
        XCTAssertEqual(config.server.port, 9100)
        XCTAssertFalse(config.cache.enabled)
        XCTAssertEqual(config.cache.ttlSeconds, 600)
        XCTAssertEqual(config.providers["openai"]?.baseURL, "http://127.0.0.1:9999/v1")
        XCTAssertEqual(config.providers["openai"]?.breaker.openSeconds, 10)
        XCTAssertEqual(config.providers["openai"]?.models, ["gpt-4o*", "o1"])
        XCTAssertNil(config.providers["nope"], "env never creates a provider")
        XCTAssertEqual(warnings.count, 2)
        XCTAssertTrue(warnings.contains { $0.contains("PARROT_TYPO") })
    }

    func testInvalidConfigNamesTheKey() {
        func message(_ toml: String, env: [String: String] = [:]) -> String {
            do {
                _ = try ProxyConfig.parse(toml: toml, environment: env)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message("[server]\nport = \"eighty\"").contains("server.port"))
        XCTAssertTrue(message("[server]\nport = 70000").contains("server.port"))
        XCTAssertTrue(message("[server]\nprot = 1").contains("server.prot"))
        XCTAssertTrue(message("[cache]\nstore = \"redis\"").contains("cache.store"))
        XCTAssertTrue(message("[cache]\nstore = \"postgres\"").contains("cache.postgres_url"))
        XCTAssertTrue(message("[server]\ndefault_provider = \"x\"").contains("server.default_provider"))
        XCTAssertTrue(message("[providers.openai]\nbase_url = \"ftp://x\"").contains("providers.openai.base_url"))
        XCTAssertTrue(message("[providers.openai]\nfallback = \"openai\"").contains("providers.openai.fallback"))
        XCTAssertTrue(message("[log]\nformat = \"xml\"").contains("log.format"))
        XCTAssertTrue(message("", env: ["PARROT_SERVER_PORT": "abc"]).contains("PARROT_SERVER_PORT"))
        XCTAssertTrue(message("[bogus]\nx = 1").contains("bogus"))
        XCTAssertTrue(message("[server\nport = 1").contains("proxy.conf"))
        let conflict = message("""
            [providers.a]
            base_url = "http://127.0.0.1:1/v1"
            models = ["gpt-4o"]
            [providers.b]
            base_url = "http://127.0.0.1:2/v1"
            models = ["gpt-4o", "*"]
            [server]
            default_provider = "a"
            """)
        XCTAssertTrue(conflict.contains("providers.a") && conflict.contains("providers.b"), conflict)
    }

    func testModelRoutingPrefersExactThenLongestPrefixThenWildcard() throws {
        var a = ProviderConfig(); a.models = ["gpt-4o-mini", "gpt*"]
        var b = ProviderConfig(); b.models = ["gpt-4o*"]
        var c = ProviderConfig(); c.models = ["*"]
        let router = try ModelRouter(providers: ["a": a, "b": b, "c": c], defaultProvider: "c")
        XCTAssertEqual(router.provider(forModel: "gpt-4o-mini"), "a")
        XCTAssertEqual(router.provider(forModel: "gpt-4o-2024"), "b")
        XCTAssertEqual(router.provider(forModel: "gpt-3.5-turbo"), "a")
        XCTAssertEqual(router.provider(forModel: "claude"), "c")
        XCTAssertEqual(router.provider(forModel: nil), "c")
    }

    func testOpenRelayOfAnInjectedKeyIsRefused() throws {
        var config = try ProxyConfig.parse(toml: "[server]\nhost = \"0.0.0.0\"")
        XCTAssertThrowsError(try config.resolveSecrets(environment: ["OPENAI_API_KEY": "sk-x"])) { error in
            XCTAssertTrue("\(error)".contains("server.client_tokens_env"))
        }
        XCTAssertNoThrow(try config.resolveSecrets(environment: [:]), "no injected key: nothing to leak")
        config.server.allowOpenRelay = true
        XCTAssertNoThrow(try config.resolveSecrets(environment: ["OPENAI_API_KEY": "sk-x"]))
    }

    func testExampleProxyConfParsesAndMatchesDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("proxy.conf").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let config = try ProxyConfig.parse(toml: text)
        XCTAssertEqual(config.server, ProxyConfig().server)
        XCTAssertEqual(config.cache, ProxyConfig().cache)
        XCTAssertEqual(config.providers["openai"], ProxyConfig().providers["openai"])
    }
}
