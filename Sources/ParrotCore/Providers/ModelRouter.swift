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
                if pattern == "*" {
                    if let other = wildcard { throw Self.clash("*", name, other) }
                    wildcard = name
                } else if pattern.hasSuffix("*") {
                    let prefix = String(pattern.dropLast())
                    if let other = seenPrefixes[prefix] { throw Self.clash(pattern, name, other) }
                    seenPrefixes[prefix] = name
                } else {
                    if let other = exact[pattern] { throw Self.clash(pattern, name, other) }
                    exact[pattern] = name
                }
            }
        }
        prefixes = seenPrefixes.map { ($0.key, $0.value) }.sorted { $0.prefix.count > $1.prefix.count }
    }

    /// Two claims on one pattern: by two providers (naming both), or twice by one.
    static func clash(_ pattern: String, _ name: String, _ other: String) -> ConfigError {
        if name == other {
            return ConfigError(key: "providers.\(name).models", "\"\(pattern)\" is listed twice")
        }
        return ConfigError(key: "providers.\(name).models",
                           "\"\(pattern)\" is also claimed by providers.\(other).models; a model pattern may belong to one provider only")
    }

    public func provider(forModel model: String?) -> String {
        guard let model else { return defaultProvider }
        if let name = exact[model] { return name }
        for entry in prefixes where model.hasPrefix(entry.prefix) { return entry.provider }
        return wildcard ?? defaultProvider
    }
}
