/// Picks the provider for a model: exact name, then longest prefix pattern (`"gpt-4o*"`),
/// then `"*"`, then `server.default_provider`. Built once; two providers claiming the same
/// pattern is a configuration error naming both.
public struct ModelRouter: Sendable {
    private var exact: [String: String] = [:]
    private var prefixes: [(prefix: String, provider: String)] = []
    private var wildcard: String?
    public let defaultProvider: String

    public init(providers: [String: ProviderConfig], defaultProvider: String) throws {
        self.defaultProvider = defaultProvider
        var seenPrefixes: [String: String] = [:]
        for name in providers.keys.sorted() {
            for pattern in providers[name]!.models {
                let key = "providers.\(name).models"
                if pattern == "*" {
                    if let other = wildcard { throw ConfigError(key: key, "\"*\" is also claimed by providers.\(other).models") }
                    wildcard = name
                } else if pattern.hasSuffix("*") {
                    let prefix = String(pattern.dropLast())
                    if let other = seenPrefixes[prefix] { throw ConfigError(key: key, "\"\(pattern)\" is also claimed by providers.\(other).models") }
                    seenPrefixes[prefix] = name
                } else {
                    if let other = exact[pattern] { throw ConfigError(key: key, "\"\(pattern)\" is also claimed by providers.\(other).models") }
                    exact[pattern] = name
                }
            }
        }
        prefixes = seenPrefixes.map { ($0.key, $0.value) }.sorted { $0.prefix.count > $1.prefix.count }
    }

    public func provider(forModel model: String?) -> String {
        guard let model else { return defaultProvider }
        if let name = exact[model] { return name }
        for entry in prefixes where model.hasPrefix(entry.prefix) { return entry.provider }
        return wildcard ?? defaultProvider
    }
}
