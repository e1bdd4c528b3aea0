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

    // MARK: the first 15 minutes (#20)

    private func message(_ toml: String, file: String? = nil, env: [String: String] = [:]) -> String {
        do {
            _ = try ProxyConfig.parse(toml: toml, file: file, environment: env)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testAnEnvKeyNamingAnUnsetOrEmptyVariableStopsStartUpNamingTheKeyAndTheVariable() throws {
        let cases: [(toml: String, key: String, variable: String)] = [
            ("[server]\nadmin_token_env = \"MY_ADMIN\"", "server.admin_token_env", "MY_ADMIN"),
            ("[server]\nclient_tokens_env = \"MY_CLIENTS\"", "server.client_tokens_env", "MY_CLIENTS"),
            ("[cache]\nnamespace_secret_env = \"MY_SECRET\"", "cache.namespace_secret_env", "MY_SECRET"),
        ]
        for (toml, key, variable) in cases {
            let config = try ProxyConfig.parse(toml: toml, file: "proxy.conf")
            for environment in [[:], [variable: ""]] {
                XCTAssertThrowsError(try config.resolveSecrets(environment: environment), key) { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains(key) && text.contains(variable), text)
                    XCTAssertTrue(text.contains(environment.isEmpty ? "is not set" : "is empty"), text)
                }
            }
            XCTAssertNoThrow(try config.resolveSecrets(environment: [variable: "value"]))
        }
        // api_key_env is the exception: unset means "forward the client's key".
        let secrets = try ProxyConfig.parse(toml: "").resolveSecrets(environment: [:])
        XCTAssertTrue(secrets.providerKeys.isEmpty)
    }

    func testConfigErrorsNameWhereTheValueCameFromAndWhatItWas() {
        let file = message("[server]\nport = \"eighty\"", file: "/etc/parrot/proxy.conf")
        XCTAssertTrue(file.contains("server.port") && file.contains("in /etc/parrot/proxy.conf") && file.contains("\"eighty\""), file)
        let env = message("", env: ["PARROT_SERVER_PORT": "70000"])
        XCTAssertTrue(env.contains("server.port") && env.contains("from PARROT_SERVER_PORT") && env.contains("70000"), env)
        let validated = message("", env: ["PARROT_SERVER_DEFAULT_PROVIDER": "nope"])
        XCTAssertTrue(validated.contains("server.default_provider") && validated.contains("from PARROT_SERVER_DEFAULT_PROVIDER"), validated)
        let fromFile = message("[providers.openai]\nbase_url = \"ftp://x\"", file: "proxy.conf")
        XCTAssertTrue(fromFile.contains("providers.openai.base_url (in proxy.conf)"), fromFile)
        // Human ranges, never Int.max.
        let ttl = message("[cache]\nttl_seconds = -1")
        XCTAssertTrue(ttl.contains("must be 0 or more, got -1"), ttl)
        XCTAssertFalse(ttl.contains("9223372036854775807"), ttl)
        let threshold = message("[semantic]\nthreshold = 2.5")
        XCTAssertTrue(threshold.contains("between 0.0 and 1.0") && threshold.contains("2.5"), threshold)
        let body = message("[server]\nmax_body_bytes = 0")
        XCTAssertTrue(body.contains("must be 1 or more, got 0"), body)
        XCTAssertFalse(body.contains("9223372036854775807"), body)
    }

    func testDefiningProvidersReplacesTheBuiltInOneAndTheErrorSaysWhichKeyToChange() {
        let local = "[providers.local]\nbase_url = \"http://127.0.0.1:1234/v1\"\napi_key_env = \"\"\n"
        let defaultProvider = message(local, file: "proxy.conf")
        XCTAssertTrue(defaultProvider.contains("server.default_provider"), defaultProvider)
        XCTAssertTrue(defaultProvider.contains("replaces the built-in \"openai\" provider"), defaultProvider)
        XCTAssertTrue(defaultProvider.contains("\"local\""), defaultProvider)
        let embedding = message(local + "[server]\ndefault_provider = \"local\"\n[semantic]\nenabled = true\n")
        XCTAssertTrue(embedding.contains("semantic.embedding_provider"), embedding)
        XCTAssertTrue(embedding.contains("replaces the built-in \"openai\" provider"), embedding)
        XCTAssertNoThrow(try ProxyConfig.parse(toml: local + "[server]\ndefault_provider = \"local\"\n"))
    }

    func testAModelPatternClashNamesTwoDifferentProviders() {
        let twice = message("""
            [providers.openai]
            models = ["gpt-4o", "gpt-4o"]
            """)
        XCTAssertTrue(twice.contains("providers.openai.models") && twice.contains("listed twice"), twice)
        XCTAssertFalse(twice.contains("also claimed"), twice)
        let two = message("""
            [providers.a]
            base_url = "http://127.0.0.1:1/v1"
            models = ["gpt-4o*"]
            [providers.b]
            base_url = "http://127.0.0.1:2/v1"
            models = ["gpt-4o*", "*"]
            [server]
            default_provider = "a"
            """)
        XCTAssertTrue(two.contains("providers.a.models") && two.contains("providers.b.models"), two)
    }
}
